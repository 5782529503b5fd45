#!/usr/bin/env python3
"""The architecture's counts, as docs/ARCHITECTURE.md states its rules: import circles between
files of src/ (from `use crate::...`/`super::...` paths, test modules and comments left out),
verb files that reach Docker or build a kube Api themselves, `role: String` fields and
`Role::X.as_str()` calls, and files over 800 lines.

    scripts/arch-counts.py [SRC_DIR]   (default: src)
"""
import os, re, signal, sys

# A reader that goes away (`| head`) ends the listing quietly.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            files[p] = open(p).read()

def module_of(path):
    rel = os.path.relpath(path, root)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ('mod', 'lib', 'main'):
        parts = parts[:-1]
    return parts

mods = {tuple(module_of(p)): p for p in files}

def resolve(parts):
    # longest prefix that is a module file
    for n in range(len(parts), 0, -1):
        t = tuple(parts[:n])
        if t in mods:
            return mods[t]
    return None

edges = {p: set() for p in files}
for p, text in files.items():
    me = module_of(p)
    # strip test modules
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r'\b(crate|super)((?:::\w+)+)(?:::\{([^;]*?)\})?', text, re.S):
        base, path, group = m.group(1), m.group(2), m.group(3)
        segs = [s for s in path.split('::') if s]
        if base == 'crate':
            start = []
        else:
            start = me[:-1] if not p.endswith('mod.rs') else me[:-1]
            if p.endswith('mod.rs'):
                start = me[:-1]
        targets = []
        if group:
            for g in re.split(r',', group):
                g = g.strip().split('::')[0].split(' ')[0]
                if g and g not in ('self',):
                    targets.append(start + segs + [g])
                elif g == 'self':
                    targets.append(start + segs)
        else:
            targets.append(start + segs)
        for t in targets:
            r = resolve(t)
            if r and r != p:
                edges[p].add(r)

# strongly connected components (Tarjan)
index = {}; low = {}; stack = []; on = set(); sccs = []; i = [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in files:
    if v not in index: strong(v)
print(f"import circles: {len(sccs)}, files in them: {sum(len(c) for c in sccs)}")
for c in sccs:
    print("  circle:", ", ".join(os.path.relpath(x, root) for x in c))
verbs = [p for p in files if '/cli/' in p]
reach = [p for p in verbs if re.search(r'docker::connect|bollard|Command::new\("docker"|Api::<|Api<|Api::namespaced|Api::all', files[p])]
print(f"verb files reaching Docker or the API: {len(reach)} of {len(verbs)}")
for p in sorted(reach): print("  ", os.path.relpath(p, root))
rs = [p for p in files if re.search(r'\brole: String', files[p])]
print(f"files with `role: String`: {len(rs)}", [os.path.relpath(p, root) for p in rs])
print("as_str() of Role:", sum(len(re.findall(r'Role::\w+\.as_str\(\)', t)) for t in files.values()))
big = sorted(((t.count('\n'), p) for p, t in files.items()), reverse=True)
print("files over 800 lines:", [(os.path.relpath(p, root), n) for n, p in big if n > 800])
