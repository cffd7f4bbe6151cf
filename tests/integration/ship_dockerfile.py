"""Checks container/Dockerfile against the source tree and the built programs.

Images cannot be built where the tests run, so this reads the Dockerfile:

  ship_dockerfile.py copies DOCKERFILE SRCDIR
      every COPY source of the build context exists in SRCDIR, and every
      folder that Makefile.am includes a fragment from is copied
  ship_dockerfile.py stages DOCKERFILE SRCDIR
      the stages' bases, the build packages against scripts/install-deps.sh,
      and the runtime stage's user, entry point, port and lack of compilers
  ship_dockerfile.py libs DOCKERFILE PROGRAM...
      every shared library that ldd lists for the programs comes from a
      package that the runtime stage installs, or from one that apt brings
      with those (Debian's Depends, read from this machine's dpkg database)

Each check prints one line, "PASS text", "FAIL text" or "SKIP text", which
the shell test turns into TAP. This machine must run the Debian release
that the Dockerfile's images are built from, because its dpkg database is
used in place of theirs.
"""

import os
import re
import shlex
import subprocess
import sys

# Packages of debian:bookworm-slim itself that the check counts as present:
# libc6 contains libc, libm, libpthread, libdl, librt and the dynamic loader.
BASE_PACKAGES = ["libc6"]

# -dev packages of scripts/install-deps.sh that the image build does not
# need: libcmocka-dev and libclang-rt-14-dev serve only the tests,
# libbpf-dev only bench/sockmap-proxy.c, and libsystemd-dev only builds
# that notify systemd.
TEST_ONLY_DEV = {"libcmocka-dev", "libclang-rt-14-dev", "libbpf-dev"}
SYSTEMD_DEV = "libsystemd-dev"
SYSTEMD_SONAME = re.compile(r"^libsystemd\.so\.")
# Runtimes that --enable-sanitizers links; the image build never does.
SANITIZER_SONAME = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so\.")

COMPILERS = re.compile(r"^(gcc|g\+\+|cpp|clang.*|build-essential|make|"
                       r"autoconf|automake|libtool|.*-dev)$")


def report(status, text):
    print(f"{status} {text}", flush=True)


def instructions(path):
    """Yields (stage index, keyword, argument text) of each instruction."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    stage = -1
    current = ""
    for line in lines:
        stripped = line.strip()
        # Comment lines end nothing: they may sit inside a continued RUN.
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, rest = current.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        yield stage, keyword, rest.strip()
        current = ""


def parse(path):
    """Returns the stages: base, name, copies, packages, runs and more."""
    stages = []
    for index, keyword, rest in instructions(path):
        if keyword == "FROM":
            words = rest.split()
            stages.append({"base": words[0], "name": words[2] if
                           len(words) >= 3 and words[1].upper() == "AS"
                           else str(index), "copies": [], "packages": [],
                           "runs": [], "env": {}, "user": None,
                           "entrypoint": None, "expose": []})
            continue
        stage = stages[index]
        if keyword in ("COPY", "ADD"):
            stage["copies"].append(parse_copy(rest))
        elif keyword == "RUN":
            stage["runs"].append(rest)
            stage["packages"] += apt_packages(rest)
        elif keyword == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                stage["env"][name] = value
        elif keyword == "USER":
            stage["user"] = rest
        elif keyword == "ENTRYPOINT":
            stage["entrypoint"] = rest
        elif keyword == "EXPOSE":
            stage["expose"] += rest.split()
    return stages


def parse_copy(rest):
    """Returns {from, sources, dest} of a COPY or ADD argument text."""
    words = shlex.split(rest)
    flags = [w for w in words if w.startswith("--")]
    args = [w for w in words if not w.startswith("--")]
    source_stage = None
    for flag in flags:
        if flag.startswith("--from="):
            source_stage = flag[len("--from="):]
    return {"from": source_stage, "sources": args[:-1], "dest": args[-1]}


def apt_packages(command):
    """Returns the package names of every apt-get install in a command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments, segment = [], []
    for word in lexer:
        if word in ("&&", "||", ";", "|", "&"):
            segments.append(segment)
            segment = []
        else:
            segment.append(word)
    segments.append(segment)
    packages = []
    for words in segments:
        tools = [i for i, w in enumerate(words)
                 if os.path.basename(w) in ("apt-get", "apt")]
        if not tools or "install" not in words[tools[0]:]:
            continue
        start = words.index("install", tools[0]) + 1
        packages += [w for w in words[start:] if not w.startswith("-")]
    return packages


def check_copies(dockerfile, srcdir):
    stages = parse(dockerfile)
    copied = set()
    for stage in stages:
        for copy in stage["copies"]:
            if copy["from"] is not None:
                continue
            for source in copy["sources"]:
                name = source.rstrip("/") or "."
                copied.add(os.path.normpath(name))
                if os.path.exists(os.path.join(srcdir, name)):
                    report("PASS", f"COPY source {source} exists")
                else:
                    report("FAIL", f"COPY source {source} is missing from "
                           f"{srcdir}")

    # A part's fragment sits in its folder, which the build must get.
    needed = set()
    with open(os.path.join(srcdir, "Makefile.am"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^include\s+(\S+)", line)
            if m:
                needed.add(m.group(1))
    missing = sorted(n for n in needed if not any(
        c == "." or n == c or n.startswith(c + "/") for c in copied))
    if missing:
        report("FAIL", "the build stage does not copy "
               + ", ".join(missing) + ", which Makefile.am includes")
    else:
        report("PASS", f"the build stage copies all {len(needed)} fragments "
               "that Makefile.am includes")


def deps_packages(srcdir):
    """Returns the packages that scripts/install-deps.sh installs."""
    path = os.path.join(srcdir, "scripts", "install-deps.sh")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r'PACKAGES="([^"]*)"', text)
    return m.group(1).split() if m else None


def check_stages(dockerfile, srcdir):
    stages = parse(dockerfile)
    if len(stages) < 2:
        report("FAIL", f"{len(stages)} stage(s); want a build stage and a "
               "runtime stage")
        return
    build, runtime = stages[0], stages[-1]

    def expect(condition, text):
        report("PASS" if condition else "FAIL", text)

    expect(build["base"] == "debian:bookworm",
           f"build stage is debian:bookworm (found {build['base']})")
    expect(runtime["base"] == "debian:bookworm-slim",
           f"runtime stage is debian:bookworm-slim "
           f"(found {runtime['base']})")

    runs = " ".join(build["runs"])
    without_systemd = re.search(r"--with-systemd=no|--without-systemd",
                                runs) is not None
    expect("./autogen.sh" in runs and "./configure" in runs and
           "make install DESTDIR=" in runs,
           "build stage runs autogen.sh, configure and make install")
    deps = deps_packages(srcdir)
    if deps is None:
        report("FAIL", "no PACKAGES list in scripts/install-deps.sh to "
               "compare the build stage with")
    else:
        wanted = {p for p in deps if p.endswith("-dev")} - TEST_ONLY_DEV
        if without_systemd:
            wanted.discard(SYSTEMD_DEV)
        missing = sorted(wanted - set(build["packages"]))
        expect(not missing, "build stage installs the -dev packages of "
               "scripts/install-deps.sh" +
               (": container/Dockerfile lacks " + ", ".join(missing) +
                " (add them to its build stage, or to TEST_ONLY_DEV in "
                "this test if the image does not build with them)"
                if missing else ""))

    tools = sorted(p for p in runtime["packages"] if COMPILERS.match(p))
    expect(not tools, "runtime stage installs no compiler or -dev package"
           + (": found " + ", ".join(tools) if tools else ""))
    user = (runtime["user"] or "").split(":")[0]
    expect(user not in ("", "0", "root"),
           f"runtime stage runs as a non-root user (USER {user or 'unset'})")
    expect(runtime["entrypoint"] == '["/usr/bin/perf-agent"]',
           "entry point is /usr/bin/perf-agent in exec form")
    expect("8080" in runtime["expose"] and
           runtime["env"].get("PORT") == "8080",
           "runtime stage exposes 8080 and sets PORT=8080")


def ldd(path, cache={}):
    """Returns {soname: resolved path or None} of everything ldd lists."""
    if path in cache:
        return cache[path]
    out = subprocess.run(["ldd", path], capture_output=True, text=True,
                         check=False).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(", line)
        if m:
            libs[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^\s*(/\S+)\s+\(", line)
        if m:
            libs[os.path.basename(m.group(1))] = m.group(1)
        else:
            m = re.match(r"^\s*(\S+)\s+=>\s+not found", line)
            if m:
                libs[m.group(1)] = None
    libs.pop("linux-vdso.so.1", None)
    cache[path] = libs
    return libs


def needed(path):
    """Returns the DT_NEEDED entries of an ELF file."""
    out = subprocess.run(["readelf", "-d", path], capture_output=True,
                         text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def owners(paths):
    """Maps each library path to its Debian package, trying the /usr and
    the merged-/usr spelling of the path."""
    candidates = {}
    for path in paths:
        real = os.path.realpath(path)
        forms = {path, real}
        for form in list(forms):
            if form.startswith("/usr/"):
                forms.add(form[len("/usr"):])
            else:
                forms.add("/usr" + form)
        candidates[path] = forms
    query = sorted({f for forms in candidates.values() for f in forms})
    out = subprocess.run(["dpkg-query", "-S"] + query, capture_output=True,
                         text=True, check=False).stdout
    owner_of = {}
    for line in out.splitlines():
        if line.startswith("diversion "):
            continue
        pkgs, sep, file = line.partition(": ")
        if sep:
            owner_of[file] = pkgs.split(", ")[0].split(":")[0]
    return {path: next((owner_of[f] for f in sorted(forms)
                        if f in owner_of), None)
            for path, forms in candidates.items()}


def installed_packages():
    """Returns {package: [dependency groups]} and {virtual: [providers]}
    from this machine's dpkg database."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f",
         "${Package}\t${db:Status-Status}\t${Provides}\t${Depends}, "
         "${Pre-Depends}\n"], capture_output=True, text=True,
        check=True).stdout
    depends, provides = {}, {}
    for line in out.splitlines():
        name, status, provided, deps = line.split("\t")
        if status != "installed":
            continue
        groups = []
        for group in deps.split(","):
            alternatives = [re.sub(r"\s*\(.*?\)|:any", "", a).strip()
                            for a in group.split("|")]
            alternatives = [a for a in alternatives if a]
            if alternatives:
                groups.append(alternatives)
        depends[name] = groups
        for p in provided.split(","):
            p = re.sub(r"\s*\(.*?\)", "", p).strip()
            if p:
                provides.setdefault(p, []).append(name)
    return depends, provides


def closure(roots):
    """Returns the packages apt would install for roots: each dependency
    group resolves to its first alternative installed here."""
    depends, provides = installed_packages()
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in depends:
            name = next(iter(provides.get(name, [])), name)
        if name in seen:
            continue
        seen.add(name)
        for group in depends.get(name, []):
            for alternative in group:
                real = alternative if alternative in depends else next(
                    iter(provides.get(alternative, [])), None)
                if real is not None:
                    todo.append(real)
                    break
    return seen


def required_libraries(program, left_out):
    """Returns {soname: path} of the libraries a program loads. Libraries
    that this build links but the image build does not (left_out, a list
    of soname patterns) are dropped, with what only they bring."""
    listed = ldd(program)
    direct = needed(program)
    kept = [n for n in direct if not any(p.match(n) for p in left_out)]
    if len(kept) == len(direct):
        return listed
    libs = {}
    for name in kept:
        libs[name] = listed.get(name)
        if listed.get(name):
            libs.update(ldd(listed[name]))
    return libs


def check_libs(dockerfile, programs):
    stages = parse(dockerfile)
    runtime = stages[-1]
    runs = " ".join(stages[0]["runs"])
    left_out = []
    if re.search(r"--with-systemd=no|--without-systemd", runs):
        left_out.append(SYSTEMD_SONAME)
    if "--enable-sanitizers" not in runs:
        left_out.append(SANITIZER_SONAME)
    provided = closure(runtime["packages"] + BASE_PACKAGES)
    base = closure(BASE_PACKAGES)
    for program in programs:
        libs = required_libraries(program, left_out)
        unresolved = sorted(n for n, p in libs.items() if p is None)
        owner = owners([p for p in libs.values() if p is not None])
        problems = [f"{n} (not found by ldd)" for n in unresolved]
        skipped = 0
        for name, path in sorted(libs.items()):
            if path is None:
                continue
            package = owner.get(path)
            if package in base:
                skipped += 1
            elif package is None:
                problems.append(f"{name} ({path}: no package owns it)")
            elif package not in provided:
                problems.append(f"{name} (package {package})")
        label = os.path.basename(program)
        if problems:
            report("FAIL", f"{label}: the runtime stage lacks "
                   + ", ".join(problems))
        else:
            report("PASS", f"{label}: runtime packages provide its "
                   f"{len(libs) - skipped} libraries beyond libc6")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    command, dockerfile = argv[1], argv[2]
    if command == "copies" and len(argv) == 4:
        check_copies(dockerfile, argv[3])
    elif command == "stages" and len(argv) == 4:
        check_stages(dockerfile, argv[3])
    elif command == "libs" and len(argv) >= 4:
        check_libs(dockerfile, argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
