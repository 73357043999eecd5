"""The environments themselves: one file each, `environments/<name>.toml`.

`ENVIRONMENTS` maps every file's name to its environment. It lists names from the folder
without reading the files (so `--help` lists them even while one is broken) and reads a
file the first time its environment is asked for; a bad file is one `ConfigFileError`
line naming the file, the key and the fix. codec.py is the format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from environments.codec import dumps, loads
from environments.errors import ConfigFileError
from environments.model import REPO_ROOT, Environment
from environments.network import VpcConfig
from environments.triggers import SqsTrigger

ENVIRONMENTS_DIR = REPO_ROOT / "environments"
SUFFIX = ".toml"
LOCAL_ENDPOINT_DEFAULT = "http://127.0.0.1:5000"


def shown(path: Path) -> str:
    """How a file is named in errors: relative to the repository when inside it."""
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


def load_environment_file(path: Path) -> Environment:
    """Read one environment file; its `name` must be the file's name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(
            f"{shown(path)}: no such file; create it (docs/runbooks/add-environment.md)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"{shown(path)}: cannot read it ({err})") from None
    env = loads(text, Environment, source=shown(path), root=REPO_ROOT)
    if env.name != path.stem:
        raise ConfigFileError(
            f"{shown(path)}: name: got {env.name!r}; the file's name says {path.stem!r}: rename one"
        )
    return env


def environment_text(env: Environment) -> str:
    """The file `load_environment_file` reads back into an equal environment."""
    return dumps(env, root=REPO_ROOT)


class Catalog(Mapping[str, Environment]):
    """Every `*.toml` in `folder`, read on first use and kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: dict[Path, Environment] = {}

    def use(self, folder: Path) -> None:
        """Read the environments from `folder` instead (a rehearsal's discovered files):
        the entry points call it from their setting, before any name is looked up."""
        if not folder.is_dir():
            raise ConfigFileError(
                f"{shown(folder)}: not a directory of environment files; give the folder "
                "discover wrote NAME.toml into"
            )
        if folder != self.folder:
            self.folder = folder
            self._read.clear()

    def path(self, name: str) -> Path:
        """Where environment `name`'s file is (or would be written)."""
        return self.folder / f"{name}{SUFFIX}"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob(f"*{SUFFIX}") if p.is_file())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.path(name).is_file()

    def __getitem__(self, name: str) -> Environment:
        path = self.path(name)
        if name not in self:
            raise KeyError(name)
        if path not in self._read:
            self._read[path] = load_environment_file(path)
        return self._read[path]


ENVIRONMENTS = Catalog(ENVIRONMENTS_DIR)


def get_environment(name: str, *, endpoint_url: str | None = None) -> Environment:
    """Look an environment up by name; `endpoint_url` re-points a local one (moto's port)."""
    try:
        env = ENVIRONMENTS[name]
    except KeyError:
        raise ConfigFileError(
            f"environment: unknown {name!r}; allowed: {', '.join(sorted(ENVIRONMENTS))}"
        ) from None
    if endpoint_url is not None and env.is_local:
        env = replace(env, endpoint_url=endpoint_url)
    return env


# ---- legacy: the example of an existing system (legacy.toml) ---------------------------
# What AWS generated when the legacy system was built, as legacy.toml says them. A real
# account's ids never change; moto makes new ones on every start, so tests/e2e passes the
# world's own through `legacy_environment(...)`.
LEGACY_EXAMPLE_NETWORK = VpcConfig(
    subnet_ids=("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"),
    security_group_ids=("sg-0a1b2c3d4e5f60003",),
)
LEGACY_EXAMPLE_MAPPING_UUID = "6f1d2c3b-4a59-4e8d-9c7b-a1b2c3d4e5f6"


def legacy_environment(
    *,
    network: VpcConfig = LEGACY_EXAMPLE_NETWORK,
    runbooks_mapping_uuid: str = LEGACY_EXAMPLE_MAPPING_UUID,
    endpoint_url: str = LOCAL_ENDPOINT_DEFAULT,
) -> Environment:
    """legacy.toml with a running world's own subnet, security group and mapping ids."""
    env = load_environment_file(ENVIRONMENTS_DIR / f"legacy{SUFFIX}")
    functions = tuple(
        replace(
            config,
            vpc=network if config.vpc is not None else None,
            triggers=tuple(
                replace(t, existing_uuid=runbooks_mapping_uuid)
                if isinstance(t, SqsTrigger) and t.existing_uuid is not None
                else t
                for t in config.triggers
            ),
        )
        for config in env.functions
    )
    return replace(env, functions=functions, endpoint_url=endpoint_url)
