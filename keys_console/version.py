"""The app's version, written once: `version` in pyproject.toml, read here from the installed
package's metadata (`uv sync` installs the project itself, editable). OpenAPI's `info.version`,
`/healthz`'s `version` and the CHANGELOG's newest release heading all say it
(tests/test_version.py checks that they agree)."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "nbq-keys-console"


def app_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # the code run from a copy that was never installed
        return "0+unknown"


VERSION = app_version()
