"""Reports. Broken on purpose: still imports the enum by its name before the rename."""

from app.models import OrderStatus


def render(name: str) -> dict[str, str]:
    return {"report": name, "states": ",".join(s.value for s in OrderStatus)}
