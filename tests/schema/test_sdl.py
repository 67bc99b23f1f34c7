"""The committed SDL (schema/schema.graphql) is what the code serves."""

from schema import SDL_PATH, sdl


def test_sdl_file_matches_the_code():
    assert SDL_PATH.read_text(encoding="utf-8") == sdl(), (
        "schema/schema.graphql is out of date: run `satreps export-schema`"
    )
