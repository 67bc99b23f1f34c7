"""Global-issue themes: types, queries, mutations."""

from schema.themes.mutations import ThemeMutations
from schema.themes.queries import ThemeQueries
from schema.themes.types import CreateThemeInput, Theme, ThemePayload

__all__ = ["CreateThemeInput", "Theme", "ThemeMutations", "ThemePayload", "ThemeQueries"]
