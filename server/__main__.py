from server.http.cli import app

app()
