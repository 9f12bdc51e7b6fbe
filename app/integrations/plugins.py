"""Finding and calling plugins: the pluggy manager, entry-point discovery, and calling
one plugin's implementation of a hook with the arguments it accepts.

Plugins are found through the entry-point group ``kontor.plugins``; the built-ins under
``plugins/`` are registered through the same group (see pyproject.toml). The
``KONTOR_PLUGINS`` environment variable, a comma-separated list of plugin names (or
``none``), limits which load.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pluggy

from app.integrations import hookspecs

log = logging.getLogger(__name__)

GROUP = "kontor.plugins"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its entry-point name, module, distribution version and the
    provider it describes (None for a listener-only plugin)."""

    name: str
    module: Any
    version: str
    provider: dict[str, Any] | None
    hooks: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return (self.provider or {}).get("label") or self.name

    @property
    def auth(self) -> str:
        return (self.provider or {}).get("auth", "none")

    def implements(self, hook: str) -> bool:
        return hook in self.hooks


class PluginError(Exception):
    """A plugin misbehaved (bad description, exception, malformed answer)."""


_manager: pluggy.PluginManager | None = None
_plugins: dict[str, Plugin] = {}


def wanted(env: str | None = None) -> set[str] | None:
    """The names KONTOR_PLUGINS allows, or None for all."""
    raw = os.environ.get("KONTOR_PLUGINS") if env is None else env
    if raw is None or not raw.strip():
        return None
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return set() if names == {"none"} else names


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)


def manager() -> pluggy.PluginManager:
    """The plugin manager, loading plugins on first use."""
    if _manager is None:
        load()
    assert _manager is not None
    return _manager


def _hooks_of(pm: pluggy.PluginManager, module: Any) -> tuple[str, ...]:
    names = []
    for caller in pm.get_hookcallers(module) or []:
        names.append(caller.name)
    return tuple(sorted(names))


def _describe(pm: pluggy.PluginManager, name: str, module: Any) -> dict[str, Any] | None:
    impl = implementation(pm, module, "describe_provider")
    if impl is None:
        return None
    provider = impl.function()
    if provider is None:
        return None
    if not isinstance(provider, dict) or not NAME_RE.match(str(provider.get("name", ""))):
        raise PluginError(f"plugin {name}: describe_provider() needs a dict with a valid name")
    if provider.get("auth", "none") not in ("oauth2", "api_key", "none"):
        raise PluginError(f"plugin {name}: unknown auth {provider.get('auth')!r}")
    return provider


def load(env: str | None = None, extra: list[tuple[str, Any]] | None = None) -> dict[str, Plugin]:
    """(Re)load plugins from the entry points, limited by KONTOR_PLUGINS; `extra` adds
    (name, module) pairs, which is how tests register plugins of their own."""
    global _manager
    pm = pluggy.PluginManager("kontor")
    pm.add_hookspecs(hookspecs)
    allowed = wanted(env)
    found: list[tuple[str, Any, str]] = []
    for ep in _entry_points():
        if allowed is not None and ep.name not in allowed:
            continue
        try:
            module = ep.load()
        except Exception:  # a broken third-party plugin must not take Kontor down
            log.exception("could not load plugin %s", ep.name)
            continue
        version = ep.dist.version if ep.dist is not None else ""
        found.append((ep.name, module, version))
    for name, module in extra or []:
        found.append((name, module, getattr(module, "__version__", "")))
    plugins: dict[str, Plugin] = {}
    for name, module, version in found:
        if pm.is_registered(module) or name in plugins:
            continue
        try:
            pm.register(module, name=name)
            provider = _describe(pm, name, module)
            if provider is not None and provider["name"] != name:
                raise PluginError(
                    f"plugin {name}: describe_provider() names it {provider['name']!r}; "
                    "the entry point's name must be the same"
                )
        except Exception:  # one broken plugin must not break every contact save
            log.exception("plugin %s disabled", name)
            if pm.is_registered(module):
                pm.unregister(module)
            continue
        plugins[name] = Plugin(name, module, version, provider, _hooks_of(pm, module))
    _manager = pm
    _plugins.clear()
    _plugins.update(plugins)
    return dict(plugins)


def plugins() -> dict[str, Plugin]:
    """Every loaded plugin by name."""
    manager()
    return dict(_plugins)


def providers() -> dict[str, Plugin]:
    """Loaded plugins that describe a provider one can connect to."""
    return {n: p for n, p in plugins().items() if p.provider is not None}


def get(name: str) -> Plugin | None:
    return plugins().get(name)


def implementation(pm: pluggy.PluginManager, module: Any, hook: str):
    """The HookImpl of `hook` that `module` registered, or None."""
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        return None
    for impl in caller.get_hookimpls():
        if impl.plugin is module:
            return impl
    return None


def call(plugin: Plugin, hook: str, **kwargs: Any) -> Any:
    """Call `plugin`'s implementation of `hook` with the arguments it accepts.

    Raises PluginError when the plugin does not implement it or asks for an argument
    the hook does not offer.
    """
    impl = implementation(manager(), plugin.module, hook)
    if impl is None:
        raise PluginError(f"plugin {plugin.name} does not implement {hook}")
    try:
        args = [kwargs[name] for name in impl.argnames]
    except KeyError as exc:
        raise PluginError(f"plugin {plugin.name}: {hook} has no argument {exc.args[0]}") from None
    return impl.function(*args)


def hook_names() -> list[str]:
    """Every hook a plugin can implement, in the order of hookspecs.py."""
    return [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "kontor_spec")
    ]


def hook_arguments(name: str) -> list[str]:
    """The arguments the spec of hook `name` offers."""
    caller = getattr(manager().hook, name)
    return list(caller.spec.argnames)
