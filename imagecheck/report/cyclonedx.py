"""``imagecheck inventory TARGET --format cyclonedx``: a CycloneDX 1.6 JSON SBOM.

Built with ``cyclonedx-python-lib`` (its model and its JSON writer), never by hand. The
image is the metadata component (type container, its config digest as a SHA-256 hash);
each Python distribution is ``pkg:pypi/NAME@VERSION``, each Debian package
``pkg:deb/debian/NAME@VERSION?arch=ARCH``, each shared library with a SONAME a library
component named by it. Every component carries, as ``imagecheck:*`` properties, where it
is and the layer that installed it (history index, diff_id, the history command); a
shadowed duplicate dist-info says so (``imagecheck:shadowed_by``). The serial number and
timestamp come from the image, so the same image gives the same document.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .. import __version__
from ..model import Inventory, LayerRef
from ..timestamps import parse_timestamp

if TYPE_CHECKING:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom


def _props(pairs: Iterable[tuple[str, str | None]]) -> list[Property]:
    from cyclonedx.model import Property

    return [Property(name=f"imagecheck:{k}", value=v) for k, v in pairs if v]


def _layer(ref: LayerRef) -> list[tuple[str, str | None]]:
    return [
        ("layer:index", str(ref.index)),
        ("layer:diff_id", ref.diff_id),
        ("layer:created_by", ref.created_by),
    ]


def cyclonedx_bom(inv: Inventory) -> Bom:
    """The inventory as a CycloneDX model (``cyclonedx_json`` writes it)."""
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    img = inv.image
    algo, _, digest = img.id.partition(":")
    name = img.repo_tags[0] if img.repo_tags else img.ref
    image = Component(
        type=ComponentType.CONTAINER,
        name=name.rpartition(":")[0] if ":" in name.rpartition("/")[2] else name,
        version=name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else None,
        bom_ref=f"image:{img.id or img.ref}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if algo == "sha256" else [],
        properties=_props(
            [
                ("image:id", img.id or None),
                ("image:ref", img.ref),
                ("image:platform", str(img.platform)),
                *[("image:repo_tag", t) for t in img.repo_tags],
            ]
        ),
    )
    components: list[Component] = []
    for d in inv.python:
        purl = PackageURL(type="pypi", name=d.key, version=d.version)
        components.append(
            Component(
                type=ComponentType.APPLICATION if d.application else ComponentType.LIBRARY,
                name=d.name,
                version=d.version,
                purl=purl,
                bom_ref=f"pypi:{d.path}",
                properties=_props(
                    [
                        ("path", d.path),
                        ("environment", d.environment),
                        ("installer", d.installer),
                        ("live", "true" if d.live else "false"),
                        ("shadowed_by", d.shadowed_by),
                        *_layer(d.layer),
                    ]
                ),
            )
        )
    for p in inv.debian:
        qualifiers = {"arch": p.architecture} if p.architecture else {}
        purl = PackageURL(
            type="deb", namespace="debian", name=p.name, version=p.version, qualifiers=qualifiers
        )
        components.append(
            Component(
                name=p.name,
                version=p.version,
                purl=purl,
                bom_ref=f"deb:{p.name}@{p.version}:{p.architecture}",
                properties=_props([("source", p.source_package), *_layer(p.layer)]),
            )
        )
    for lib in inv.libraries:
        if not lib.soname:
            continue  # Python extension modules: their distribution is listed
        components.append(
            Component(
                name=lib.soname,
                bom_ref=f"elf:{lib.path}",
                properties=_props(
                    [("path", lib.path), ("machine", lib.machine), *_layer(lib.layer)]
                ),
            )
        )
    created = parse_timestamp(img.created) or datetime(1970, 1, 1, tzinfo=timezone.utc)
    tool = Component(type=ComponentType.APPLICATION, name="imagecheck", version=__version__)
    metadata = BomMetaData(component=image, timestamp=created)
    metadata.tools.components.add(tool)
    bom = Bom(
        components=components,
        metadata=metadata,
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"imagecheck:{img.id or img.ref}"),
    )
    bom.register_dependency(image, components)  # the image holds each of them
    return bom


def cyclonedx_json(inv: Inventory) -> str:
    """The document, as CycloneDX 1.6 JSON, ending in a newline."""
    from cyclonedx.output.json import JsonV1Dot6

    return JsonV1Dot6(cyclonedx_bom(inv)).output_as_string(indent=2) + "\n"
