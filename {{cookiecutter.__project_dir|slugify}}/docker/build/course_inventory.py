"""What is in the course image, read from what is installed: a page for students and a CycloneDX SBOM for IT.

Run once by the image build, after everything is installed, with the course
environment's Python:

    /opt/venv/bin/python course_inventory.py BASE_IMAGE COURSE_NAME OUTPUT_FOLDER

It writes into OUTPUT_FOLDER (/opt/course/inventory):
- index.html: the page *Course environment* opens in Jupyter (the base image,
  the system, Python, every Python package with its version, summary and
  licence and why it is there, the Debian packages the course added, the
  Jupyter extensions, the libraries the image serves to the browser);
- inventory.json: the same, as data;
- sbom.cdx.json: a CycloneDX 1.6 software bill of materials: every Python
  distribution, every Debian package and every browser library in the image.

Only the standard library, packaging (which Jupyter needs) and the image's own
course_check: nothing is added to the students' environment, and the build
needs no network for it.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import platform
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from course_check import requirement_names
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

COURSE = Path("/opt/course")
# Written before the course's system packages are installed (see the Dockerfile).
BASE_PACKAGES = COURSE / "base-packages.txt"
# Libraries the image serves to the browser, each in a folder with its npm
# package.json (the desktop's noVNC: docker/build/install-novnc.py).
BROWSER_LIBRARIES = COURSE / "desktop"
EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def requested(path: Path) -> set[str]:
    """The distribution names a requirements file asks for, normalized (not the files it includes)."""
    return {canonicalize_name(name) for name in requirement_names(path)}


def licence_of(metadata) -> str:
    """The licence as the distribution states it: SPDX expression, License field, or classifiers."""
    if metadata.get("License-Expression"):
        return metadata["License-Expression"]
    declared = (metadata.get("License") or "").strip()
    if declared and "\n" not in declared and len(declared) <= 100 and declared.upper() != "UNKNOWN":
        return declared
    classifiers = [value.rsplit(" :: ", 1)[-1] for value in metadata.get_all("Classifier") or []
                   if value.startswith("License :: ")]
    return " OR ".join(classifiers)


def spdx(licence: str) -> str | None:
    """The licence as a valid SPDX expression (one identifier is one too), or None."""
    try:
        from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
    except ImportError:  # packaging before 24.2 cannot tell
        return None
    try:
        return canonicalize_license_expression(licence) if licence else None
    except InvalidLicenseExpression:
        return None


def debian_licence(name: str, doc: Path = Path("/usr/share/doc")) -> str:
    """The licence names of a Debian package's machine-readable copyright file; empty when it has none."""
    path = doc / name / "copyright"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    if not text.startswith("Format:"):
        return ""
    names = []
    for line in text.splitlines():
        if line.startswith("License:") and line.split(":", 1)[1].strip():
            for licence in re.split(r"\s+(?:or|and)\s+|\s*[|,]\s*", line.split(":", 1)[1].strip()):
                if licence and licence not in names:
                    names.append(licence)
    return ", ".join(names)


def python_packages() -> list[dict]:
    """Every distribution this Python imports from, as it resolves them (the first of a name wins)."""
    found: dict[str, dict] = {}
    for distribution in importlib.metadata.distributions():
        metadata = distribution.metadata
        name = canonicalize_name(metadata["Name"])
        if name in found:
            continue
        requires, with_extras = set(), {}
        for requirement in distribution.requires or []:
            required = canonicalize_name(Requirement(requirement).name)
            extra = EXTRA.search(requirement)
            if extra:
                with_extras.setdefault(required, []).append(extra.group(1))
            else:
                requires.add(required)
        found[name] = {"name": metadata["Name"], "version": metadata["Version"],
                       "summary": (metadata.get("Summary") or "").strip(), "licence": licence_of(metadata),
                       "spdx": spdx(licence_of(metadata)),
                       "requires": sorted(requires - {name}), "requires with an extra": with_extras}
    course, jupyter = requested(COURSE / "requirements.in"), requested(COURSE / "requirements-jupyter.in")
    for key, package in found.items():
        package["asked for by"] = "the course" if key in course else "Jupyter" if key in jupyter else None
        package["needed by"] = sorted(other["name"] for other in found.values() if key in other["requires"])
        if not package["needed by"] and not package["asked for by"]:
            # Only an optional part of another needs it (pandas[excel] brings openpyxl).
            package["needed by"] = sorted(f"{other['name']}[{extra}]" for other_key, other in found.items()
                                          if other_key != key
                                          for extra in other["requires with an extra"].get(key, []))
    for package in found.values():
        del package["requires with an extra"]
    return sorted(found.values(), key=lambda package: package["name"].lower())


def debian_packages() -> list[dict]:
    """Every Debian package installed: name, version, architecture, summary, added by the course or not."""
    listing = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}"
         "\t${binary:Summary}\n"], capture_output=True, text=True, check=True).stdout
    base = set(BASE_PACKAGES.read_text().split()) if BASE_PACKAGES.exists() else set()
    packages = []
    for line in listing.splitlines():
        status, name, version, architecture, summary = line.split("\t")
        if status.startswith("ii"):
            packages.append({"name": name, "version": version, "architecture": architecture,
                             "summary": summary, "licence": debian_licence(name),
                             "added by the course": name not in base})
    return packages


def browser_libraries(folder: Path = BROWSER_LIBRARIES) -> list[dict]:
    """Each library served to the browser: name, version, licence (SPDX, as npm asks) and summary."""
    found = []
    for manifest in sorted(folder.glob("*/package.json")):
        package = json.loads(manifest.read_text())
        found.append({"name": package["name"], "version": package["version"],
                      "licence": package.get("license", ""), "summary": package.get("description", "")})
    return found


def jupyter_extensions() -> dict[str, list[dict]]:
    """The JupyterLab extensions and the enabled server extensions of this environment."""
    prefix = Path(sys.prefix, "share", "jupyter", "labextensions")
    lab = []
    for manifest in sorted(prefix.glob("*/package.json")) + sorted(prefix.glob("@*/*/package.json")):
        package = json.loads(manifest.read_text())
        lab.append({"name": package["name"], "version": package.get("version", "")})
    server = []
    for config in sorted(Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d").glob("*.json")):
        enabled = json.loads(config.read_text()).get("ServerApp", {}).get("jpserver_extensions", {})
        server += [{"name": name} for name, on in enabled.items() if on]
    return {"JupyterLab": lab, "server": server}


def system() -> str:
    lines = Path("/etc/os-release").read_text().splitlines()
    release = dict(line.split("=", 1) for line in lines if "=" in line)
    return release.get("PRETTY_NAME", "").strip('"')


def inventory(base_image: str, course_name: str) -> dict:
    return {"course": course_name, "base image": base_image, "system": system(),
            "python": platform.python_version(), "architecture": platform.machine(),
            "python packages": python_packages(), "debian packages": debian_packages(),
            "jupyter extensions": jupyter_extensions(), "browser libraries": browser_libraries()}


def sbom(data: dict) -> dict:
    """CycloneDX 1.6 (JSON): the image, every Python distribution, Debian package and browser library."""
    distro = "ubuntu" if data["system"].lower().startswith("ubuntu") else "debian"
    components = []
    for package in data["python packages"]:
        purl = f"pkg:pypi/{canonicalize_name(package['name'])}@{package['version']}"
        component = {"type": "library", "bom-ref": purl, "name": package["name"],
                     "version": package["version"], "purl": purl}
        if package["summary"]:
            component["description"] = package["summary"]
        if package["spdx"]:
            # One identifier is license.id; anything more (AND, OR, WITH) an expression.
            licence = package["spdx"]
            single = re.fullmatch(r"[A-Za-z0-9.+-]+", licence) and not licence.startswith("LicenseRef")
            component["licenses"] = [{"license": {"id": licence}}] if single else [{"expression": licence}]
        elif package["licence"]:
            component["licenses"] = [{"license": {"name": package["licence"]}}]
        components.append(component)
    for package in data["debian packages"]:
        purl = f"pkg:deb/{distro}/{package['name']}@{package['version']}?arch={package['architecture']}"
        component = {"type": "library", "bom-ref": purl, "name": package["name"],
                     "version": package["version"], "purl": purl, "description": package["summary"]}
        if package["licence"]:
            # Debian's own short names (GPL-2+), not SPDX identifiers.
            component["licenses"] = [{"license": {"name": name}} for name in package["licence"].split(", ")]
        components.append(component)
    for library in data["browser libraries"]:
        # The package URL spelling of an npm scope: @novnc/novnc is %40novnc/novnc.
        purl = f"pkg:npm/{library['name'].replace('@', '%40')}@{library['version']}"
        component = {"type": "library", "bom-ref": purl, "name": library["name"],
                     "version": library["version"], "purl": purl, "description": library["summary"]}
        if library["licence"]:
            component["licenses"] = [{"expression": library["licence"]}]
        components.append(component)
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "component": {"type": "container", "bom-ref": "course-image", "name": data["course"],
                                   "description": f"Jupyter environment for the course {data['course']}, "
                                                  f"built from {data['base image']}"}},
        "components": components,
    }


STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f3f3f3; }
</style>"""


def why(package: dict) -> str:
    if package["asked for by"]:
        return f"asked for by {package['asked for by']}"
    if package["needed by"]:
        return "needed by " + ", ".join(package["needed by"])
    return "part of the base image"


def page(data: dict) -> str:
    """The inventory as a page a student reads in the browser."""
    def escape(text: str) -> str:
        return html.escape(str(text))

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
        body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    packages = data["python packages"]
    unlicensed = [package["name"] for package in packages if not package["licence"]]
    # The course's own packages first, then Jupyter's, then what they need.
    order = {"the course": 0, "Jupyter": 1, None: 2}
    shown = sorted(packages, key=lambda p: (order[p["asked for by"]], p["name"].lower()))
    python_rows = [[f"<b>{escape(p['name'])}</b>", escape(p["version"]),
                    escape(p["licence"]) if p["licence"] else "<em>none in its metadata</em>",
                    escape(why(p)), escape(p["summary"])] for p in shown]
    added = [package for package in data["debian packages"] if package["added by the course"]]
    debian_rows = [[escape(p["name"]), escape(p["version"]), escape(p["licence"] or "unknown"),
                    escape(p["summary"])] for p in added]
    extensions = data["jupyter extensions"]
    extension_rows = [["JupyterLab", escape(e["name"]), escape(e["version"])]
                      for e in extensions["JupyterLab"]]
    extension_rows += [["Jupyter Server", escape(e["name"]), ""] for e in extensions["server"]]
    browser_rows = [[escape(b["name"]), escape(b["version"]), escape(b["licence"] or "unknown"),
                     escape(b["summary"])] for b in data["browser libraries"]]
    browser = ("<h2>Served to the browser</h2>\n" + table(["library", "version", "licence", "what it is"],
                                                          browser_rows) if browser_rows else "")
    asked = sum(1 for package in packages if package["asked for by"] == "the course")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Course environment: {escape(data['course'])}</title>
{STYLE}</head>
<body>
<h1>What is in this course's environment</h1>
<p>{escape(data['course'])}. Everything below was read from the course image when it was built.</p>
<ul>
<li>Python {escape(data['python'])} on {escape(data['system'])} ({escape(data['architecture'])})</li>
<li>Base image: <code>{escape(data['base image'])}</code></li>
<li>{len(packages)} Python packages: {asked} asked for by the course, the others needed by them
or by Jupyter</li>
<li>{len(added)} Debian packages added by the course, on top of the base image's</li>
</ul>
<p>For IT: the software bill of materials of this image (CycloneDX, every Python and Debian package
and every library served to the browser):
<a href="sbom.cdx.json">sbom.cdx.json</a>;
the same list as data: <a href="inventory.json">inventory.json</a>.</p>
<h2>Python packages (the course's own first)</h2>
{"<p>Without a licence in their metadata: " + escape(", ".join(unlicensed)) + ".</p>" if unlicensed else ""}
{table(["package", "version", "licence", "why it is here", "what it is"], python_rows)}
<h2>Debian packages the course added</h2>
{table(["package", "version", "licence", "what it is"], debian_rows) if debian_rows else "<p>None.</p>"}
<h2>Jupyter extensions</h2>
{table(["part of", "extension", "version"], extension_rows)}
{browser}
</body></html>
"""


def main(base_image: str, course_name: str, output: str) -> None:
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    data = inventory(base_image, course_name)
    (folder / "inventory.json").write_text(json.dumps(data, indent=1) + "\n")
    (folder / "sbom.cdx.json").write_text(json.dumps(sbom(data), indent=1) + "\n")
    (folder / "index.html").write_text(page(data))
    print(f"inventory: {len(data['python packages'])} Python packages, {len(data['debian packages'])} Debian "
          f"packages, in {folder}")


if __name__ == "__main__":
    main(*sys.argv[1:])
