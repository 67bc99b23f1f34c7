from server.http.cli import app

if __name__ == "__main__":  # not when a sandboxed extractor's process imports it (spawn)
    app()
