"""The JSON document: a stable, versioned, deterministic rendering of the model.

Field names here are a public interface (``schemas/inventory.schema.json``, checked in
the tests). Add fields freely; rename or remove only with a new ``schema_version``.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..model import (
    Change,
    ImageInfo,
    Interpreter,
    Inventory,
    LayerRef,
    LayerSummary,
    PythonDist,
    Removed,
    SharedLibrary,
)

SCHEMA_VERSION = 1


def layer_ref(ref: LayerRef) -> dict[str, Any]:
    return {"index": ref.index, "created_by": ref.created_by, "diff_id": ref.diff_id}


def _change(c: Change) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "action": c.action,
        "name": c.name,
        "old_version": c.old_version,
        "new_version": c.new_version,
        "where": c.where,
    }


def _layer(s: LayerSummary) -> dict[str, Any]:
    e = s.entry
    return {
        "index": e.index,
        "created": e.created,
        "created_by": e.created_by,
        "comment": e.comment,
        "empty": e.empty_layer,
        "diff_id": e.diff_id,
        "size": s.size,
        "files_added": s.files_added,
        "files_changed": s.files_changed,
        "files_removed": s.files_removed,
        "wasted_bytes": s.wasted_bytes,
        "hidden_bytes": s.hidden_bytes,
        "changes": [_change(c) for c in s.changes],
    }


def _dist(d: PythonDist) -> dict[str, Any]:
    return {
        "name": d.name,
        "version": d.version,
        "path": d.path,
        "environment": d.environment,
        "live": d.live,
        "shadowed_by": d.shadowed_by,
        "kind": d.kind,
        "installer": d.installer,
        "requires_dist": list(d.requires_dist),
        "requires_python": d.requires_python,
        "import_names": list(d.import_names),
        "wheel_tags": list(d.wheel_tags),
        "application": d.application,
        "layer": layer_ref(d.layer),
    }


def _removed(r: Removed) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "name": r.name,
        "version": r.version,
        "path": r.path,
        "added_by": layer_ref(r.added_by),
        "removed_by": layer_ref(r.removed_by),
    }


def _library(lib: SharedLibrary) -> dict[str, Any]:
    return {
        "path": lib.path,
        "soname": lib.soname,
        "needed": list(lib.needed),
        "runpath": list(lib.runpath),
        "rpath": list(lib.rpath),
        "machine": lib.machine,
        "markers": list(lib.markers),
        "layer": layer_ref(lib.layer),
    }


def _interpreter(i: Interpreter | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "path": i.path,
        "real_path": i.real_path,
        "version": i.version,
        "venv": i.venv,
        "reason": i.reason,
        "sys_path": list(i.sys_path),
    }


def tool_header() -> dict[str, Any]:
    """The fields every document starts with: schema and tool."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "imagecheck", "version": __version__},
    }


def header(img: ImageInfo) -> dict[str, Any]:
    """``tool_header()`` and which image."""
    return tool_header() | {
        "image": {
            "ref": img.ref,
            "id": img.id,
            "created": img.created,
            "platform": str(img.platform),
            "repo_tags": list(img.repo_tags),
        },
    }


def inventory_document(inv: Inventory) -> dict[str, Any]:
    img = inv.image
    doc = header(img)
    doc["image"].update(
        {
            "entrypoint": list(img.entrypoint),
            "cmd": list(img.cmd),
            "working_dir": img.working_dir,
            "user": img.user,
            "layers": [_layer(s) for s in inv.layers],
        }
    )
    return doc | {
        "interpreter": _interpreter(inv.interpreter),
        "environments": [
            {
                "path": e.path,
                "kind": e.kind,
                "python_version": e.python_version,
                "venv": e.venv,
                "on_runtime_path": e.on_runtime_path,
            }
            for e in inv.environments
        ],
        "python": [_dist(d) for d in inv.python],
        "removed": [_removed(r) for r in inv.removed],
        "debian": [
            {
                "name": p.name,
                "version": p.version,
                "architecture": p.architecture,
                "source": p.source,
                "layer": layer_ref(p.layer),
            }
            for p in inv.debian
        ],
        "libraries": [_library(lib) for lib in inv.libraries],
        "notes": list(inv.notes),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
