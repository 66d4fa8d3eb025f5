"""Fetch server artifacts from Maven Central with the `mvn` client.

Everything lands in a private local repository (`cache/m2`, via `-Dmaven.repo.local`),
so the user's `~/.m2` is untouched and a second install needs no network. Installs are
atomic: files are gathered in `<dest>.partial` and renamed into place only when
complete, so an interrupted download never looks installed.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

from streams.services.common import ServiceError, ServicesHome

_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mos.services</groupId>
  <artifactId>{artifact}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""

_DEPENDENCY = """    <dependency>
      <groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
    </dependency>"""


def fetch_jars(home: ServicesHome, coordinates: Sequence[str], dest: Path) -> None:
    """Copy the runtime closure of `group:artifact:version` coordinates into `dest/lib`."""
    work = _work_dir(home, dest)
    deps = "\n".join(
        _DEPENDENCY.format(group=g, artifact=a, version=v) for g, a, v in (c.split(":") for c in coordinates)
    )
    (work / "pom.xml").write_text(_POM.format(artifact=dest.name, dependencies=deps))
    partial = _partial(dest)
    _mvn(home, work, f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
         f"-DoutputDirectory={partial / 'lib'}", "-DincludeScope=runtime")
    partial.rename(dest)


def fetch_zip(home: ServicesHome, coordinate: str, dest: Path) -> None:
    """Download the zip `group:artifact:version:zip` and unpack its single top folder as `dest`."""
    work = _work_dir(home, dest)
    (work / "pom.xml").write_text(_POM.format(artifact=dest.name, dependencies=""))
    _mvn(home, work, f"{_DEPENDENCY_PLUGIN}:copy", f"-Dartifact={coordinate}", f"-DoutputDirectory={work}")
    archives = list(work.glob("*.zip"))
    if len(archives) != 1:
        raise ServiceError(f"expected one zip from {coordinate} in {work}, found {archives}")
    partial = _partial(dest)
    with zipfile.ZipFile(archives[0]) as archive:
        for info in archive.infolist():
            target = partial / Path(*Path(info.filename).parts[1:])
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
            mode = (info.external_attr >> 16) & 0o777
            target.chmod(mode or 0o644)
    archives[0].unlink()
    partial.rename(dest)


def _work_dir(home: ServicesHome, dest: Path) -> Path:
    work = home.cache / "build" / dest.name
    work.mkdir(parents=True, exist_ok=True)
    return work


def _partial(dest: Path) -> Path:
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    return partial


def _mvn(home: ServicesHome, work: Path, *args: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("no `mvn` on PATH: install Apache Maven 3.6 or newer to fetch the servers")
    argv = [mvn, "-B", "-q", f"-Dmaven.repo.local={home.maven_repo}", *args]
    log = work / "mvn.log"
    with log.open("wb") as out:
        done = subprocess.run(argv, cwd=work, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ServiceError(f"maven failed ({' '.join(argv)}); see {log}:\n{tail}")
