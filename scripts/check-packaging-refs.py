"""Cross-checks the packaging files against the repository, without Docker.

Run by scripts/check-packaging with the packaging venv's Python (ruamel.yaml):

  python check-packaging-refs.py ROOT

(the workspace's packages and [[bin]] targets come from `cargo metadata --no-deps`).

Checks, each failure printed as `file: problem`:
- Dockerfiles (enclave.Dockerfile, Dockerfile): every base image is a previous stage,
  `scratch`, or pinned by `@sha256:<64 hex>`; every COPY source exists in the build
  context and is not excluded by .dockerignore; every `--from` names an earlier
  stage; every `cargo build -p P --bin B` names a package and a [[bin]] of the
  workspace; every scripts/... run exists; every ENTRYPOINT/CMD program (exec form)
  is a file COPYed into that stage, and every COPYed binary built by cargo is a bin.
- docker-compose.yml: every build context and dockerfile exists and every target is a
  stage of it; services built from our Dockerfiles start a program their image holds
  (a workspace [[bin]] or a COPYed script); depends_on names services, with a health
  check where the condition needs one; networks and named volumes are declared;
  ENCLAVE_* / HOST_PROXY_* variables are ones the binaries read; enclave-app sits
  only on `internal: true` networks whose only other member is host-proxy, and
  publishes no ports.
- deploy/host-proxy.env: every variable is one host-proxy reads.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
problems: list[str] = []


def problem(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def dockerignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `rel` (or a parent of it) out of the context."""
    parts = Path(rel).parts
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pat) or (
                pat.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pat[3:])
            ):
                result = not negate
                break
    return result


def instructions(path: Path) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[int, str, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, rest = buf.strip().partition(" ")
        out.append((start, keyword.upper(), rest.strip()))
        buf = ""
    return out


def exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


class Stage:
    def __init__(self, name: str | None, base: str) -> None:
        self.name = name
        self.base = base
        self.files: dict[str, str] = {}  # path in the image -> where it came from
        self.entrypoint: list[str] | None = None
        self.healthcheck = False


def check_dockerfile(root: Path, context: Path, path: Path, bins: dict[str, list[str]]) -> dict[str, Stage]:
    where = str(path.relative_to(root))
    patterns = dockerignore_patterns(context)
    all_bins = {b for names in bins.values() for b in names}
    stages: dict[str, Stage] = {}
    order: list[Stage] = []
    stage: Stage | None = None
    for line, keyword, args in instructions(path):
        at = f"{where}:{line}"
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            if base not in stages and base != "scratch" and not DIGEST.search(base):
                problem(at, f"base image {base} is not pinned by digest (@sha256:...)")
            stage = Stage(name, base)
            if base in stages:
                stage.files = dict(stages[base].files)
                stage.healthcheck = stages[base].healthcheck
            order.append(stage)
            if name:
                stages[name] = stage
            continue
        if stage is None:
            if keyword != "ARG":
                problem(at, f"{keyword} before any FROM")
            continue
        if keyword in ("COPY", "ADD"):
            words = shlex.split(args)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            if len(paths) < 2:
                problem(at, f"{keyword} needs a source and a destination")
                continue
            *sources, dest = paths
            source_stage = None
            for flag in flags:
                if flag.startswith("--from="):
                    ref = flag.split("=", 1)[1]
                    if ref not in stages:
                        problem(at, f"--from={ref} is not an earlier stage")
                    else:
                        source_stage = stages[ref]
            for source in sources:
                target = dest + Path(source).name if dest.endswith("/") else dest
                if source_stage is None:
                    if source in (".", "./"):
                        stage.files[target] = "context"
                        continue
                    if not (context / source).exists():
                        problem(at, f"COPY source {source} does not exist in the build context")
                    elif ignored(source, patterns):
                        problem(at, f"COPY source {source} is excluded by .dockerignore")
                    stage.files[target] = f"context:{source}"
                else:
                    stage.files[target] = f"stage:{source}"
                    name = Path(source).name
                    built_by_cargo = "/out/" in source or "/release/" in source
                    if built_by_cargo and name not in all_bins:
                        problem(at, f"{source} is not a [[bin]] of the workspace")
        elif keyword == "RUN":
            for match in re.finditer(r"cargo build([^&;|]*)", args):
                words = match.group(1).split()
                for flag, value in zip(words, words[1:]):
                    if flag == "-p" and value not in bins:
                        problem(at, f"cargo build -p {value}: no such workspace package")
                    if flag == "--bin" and value not in all_bins:
                        problem(at, f"cargo build --bin {value}: no such [[bin]] in the workspace")
            for script in re.findall(r"(?<![\w/])(scripts/[\w./-]+)", args):
                if not (context / script).exists():
                    problem(at, f"RUN uses {script}, which does not exist")
                elif ignored(script, patterns):
                    problem(at, f"RUN uses {script}, which .dockerignore excludes")
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = not args.upper().startswith("NONE")
        elif keyword in ("ENTRYPOINT", "CMD"):
            argv = exec_form(args)
            if argv is None:
                problem(at, f"{keyword} should use the exec (JSON) form")
                continue
            if keyword == "ENTRYPOINT":
                stage.entrypoint = argv
            program = argv[0] if argv else ""
            if keyword == "ENTRYPOINT" and program not in stage.files:
                problem(at, f"ENTRYPOINT program {program} is not a file COPYed into this stage")
    for s in order:
        if s.entrypoint and s.files.get(s.entrypoint[0], "").startswith("stage:"):
            name = Path(s.entrypoint[0]).name
            if name not in all_bins:
                problem(where, f"stage {s.name}: entrypoint {name} is not a [[bin]] of the workspace")
    return stages


def env_vars(source: Path, prefix: str) -> set[str]:
    return set(re.findall(rf'env = "({prefix}[A-Z0-9_]+)"', source.read_text()))


def check_compose(root: Path, bins: dict[str, list[str]]) -> None:
    path = root / "docker-compose.yml"
    where = path.name
    doc = YAML(typ="safe").load(path.read_text())
    services = doc.get("services") or {}
    built: dict[str, Stage] = {}
    networks = set((doc.get("networks") or {}).keys())
    volumes = set((doc.get("volumes") or {}).keys())
    all_bins = {b for names in bins.values() for b in names}
    known_env = env_vars(root / "enclave-app/src/config/cli.rs", "ENCLAVE_") | {
        "ENCLAVE_OPERATOR_KEY"
    }
    known_env |= env_vars(root / "host-proxy/src/config.rs", "HOST_PROXY_")
    for name, service in services.items():
        at = f"{where}: service {name}"
        build = service.get("build")
        stage = None
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            context = (root / build.get("context", ".")).resolve()
            if not context.is_dir():
                problem(at, f"build context {build.get('context')} is not a directory")
                continue
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problem(at, f"dockerfile {build.get('dockerfile')} does not exist")
                continue
            stages = check_dockerfile(root, context, dockerfile, bins)
            target = build.get("target")
            if target is not None:
                stage = stages.get(target)
                if stage is None:
                    problem(at, f"target {target} is not a stage of {dockerfile.name}")
                else:
                    built[name] = stage
        elif "image" not in service:
            problem(at, "neither build nor image")
        elif not DIGEST.search(service["image"]):
            problem(at, f"image {service['image']} is not pinned by digest")
        entrypoint = service.get("entrypoint")
        if isinstance(entrypoint, str):
            entrypoint = shlex.split(entrypoint)
        if stage is not None:
            argv = entrypoint or stage.entrypoint
            if not argv:
                problem(at, "no entrypoint")
            else:
                program = argv[0]
                origin = stage.files.get(program)
                if origin is None:
                    problem(at, f"starts {program}, which its image does not hold")
                elif origin.startswith("stage:") and Path(program).name not in all_bins:
                    problem(at, f"starts {program}, which is not a [[bin]] of the workspace")
        for dep, spec in (service.get("depends_on") or {}).items():
            if dep not in services:
                problem(at, f"depends_on {dep}: no such service")
                continue
            condition = spec.get("condition") if isinstance(spec, dict) else None
            has_check = "healthcheck" in services[dep] or (dep in built and built[dep].healthcheck)
            if condition == "service_healthy" and not has_check:
                problem(at, f"depends_on {dep} being healthy, but {dep} has no health check")
        nets = service.get("networks") or []
        for net in nets if isinstance(nets, list) else nets.keys():
            if net not in networks:
                problem(at, f"network {net} is not declared")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith((".", "/")):
                if not (root / source).exists():
                    print(f"note: {at}: bind-mount source {source} does not exist yet", file=sys.stderr)
            elif source not in volumes:
                problem(at, f"volume {source} is not declared")
        env = service.get("environment") or {}
        keys = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        for key in keys:
            if key.startswith(("ENCLAVE_", "HOST_PROXY_")) and key not in known_env:
                problem(at, f"{key} is not a variable enclave-app or host-proxy reads")
    declared = doc.get("networks") or {}
    for name, net in declared.items():
        users = [s for s, v in services.items() if name in (v.get("networks") or [])]
        if (net or {}).get("internal") and not users:
            problem(where, f"internal network {name} has no services")
    # The topology's promise: enclave-app's only peer is host-proxy, and it has no way out.
    enclave = services.get("enclave-app")
    if enclave is None:
        problem(where, "no enclave-app service")
    else:
        nets = enclave.get("networks") or []
        nets = list(nets if isinstance(nets, list) else nets.keys())
        if not nets:
            problem(where, "enclave-app is on the default network; it must be on an internal one")
        for net in nets:
            if not (declared.get(net) or {}).get("internal"):
                problem(where, f"enclave-app's network {net} is not internal: true")
            peers = sorted(
                s for s, v in services.items()
                if s != "enclave-app" and net in (v.get("networks") or [])
            )
            if peers != ["host-proxy"]:
                problem(where, f"enclave-app's network {net} has peers {peers}; only host-proxy may be")
        if enclave.get("ports"):
            problem(where, "enclave-app publishes ports; it must be reachable through host-proxy only")


def check_env_file(root: Path) -> None:
    path = root / "deploy/host-proxy.env"
    known = env_vars(root / "host-proxy/src/config.rs", "HOST_PROXY_")
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip().lstrip("#").strip()
        match = re.match(r"(HOST_PROXY_[A-Z0-9_]+)=", text)
        if match and match.group(1) not in known:
            problem(f"deploy/host-proxy.env:{number}", f"{match.group(1)} is not a variable host-proxy reads")


def workspace_bins(root: Path) -> dict[str, list[str]]:
    """Each workspace package's [[bin]] targets, by package name."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return {
        package["name"]: [t["name"] for t in package["targets"] if "bin" in t["kind"]]
        for package in metadata["packages"]
    }


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    bins = workspace_bins(root)
    check_dockerfile(root, root, root / "enclave.Dockerfile", bins)
    check_dockerfile(root, root, root / "Dockerfile", bins)
    check_compose(root, bins)
    check_env_file(root)
    for line in dict.fromkeys(problems):
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(dict.fromkeys(problems))} problem(s)", file=sys.stderr)
        return 1
    print("packaging references: ok (Dockerfiles, docker-compose.yml, deploy/host-proxy.env)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
