"""Liveness and readiness of a process, fed by the components that know."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Health:
    """Each component reports whether it can do its job; ready means all of them can."""

    _components: dict[str, bool] = field(default_factory=dict)
    _reasons: dict[str, str] = field(default_factory=dict)

    def set(self, component: str, ok: bool, reason: str = "") -> None:
        self._components[component] = ok
        if ok:
            self._reasons.pop(component, None)
        else:
            self._reasons[component] = reason or "not ready"

    def ready(self) -> bool:
        return bool(self._components) and all(self._components.values())

    def report(self) -> dict[str, object]:
        return {
            "ready": self.ready(),
            "components": dict(self._components),
            "reasons": dict(self._reasons),
        }
