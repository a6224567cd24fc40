"""The domain does not depend on the API layer: ``incidents/`` outside ``incidents/api/``
imports neither DRF nor ``fleetwatch.api``, so the admin, the CLI, the workers and a web
console can use it without the REST framework."""

import ast
from pathlib import Path

import fleetwatch.incidents

FORBIDDEN = ("rest_framework", "drf_spectacular", "fleetwatch.api")
PACKAGE = Path(fleetwatch.incidents.__file__).parent


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def domain_files() -> list[Path]:
    api = PACKAGE / "api"
    return [path for path in PACKAGE.rglob("*.py") if api not in path.parents]


def test_the_scan_sees_the_domain_and_would_catch_an_api_import():
    names = {path.name for path in domain_files()}
    assert {"models.py", "services.py", "permissions.py", "events.py"} <= names
    assert "views.py" not in names
    views = imported_modules(PACKAGE / "api" / "views.py")
    assert any(module.startswith(FORBIDDEN) for module in views)


def test_domain_modules_import_no_api_layer():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            module for module in imported_modules(path) if module.startswith(FORBIDDEN)
        )
        for path in domain_files()
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}
