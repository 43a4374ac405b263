//! The node's modules form layers, with no import cycles: checked here, by reading
//! `node/src/**/*.rs`, not claimed in a comment.
//!
//! Every `use crate::…`, `use super::…` and inline `crate::x::…` path outside test modules is
//! an edge from the module it is written in to the module it names. Two rules:
//!
//! - **No cycle.** A module never imports, directly or through others, a module that imports
//!   it. A module's own submodules are its parts: a parent that re-exports or drives them adds
//!   no edge (their edges to anything else, the parent included, count).
//! - **Layers.** Each module has a layer in [`LAYERS`]; it imports only modules of its own
//!   layer or below. Storage and the audit log sit below transport, so they cannot reach it;
//!   the holder's side and the querier's side ([`SIDES`]) share a layer and never import
//!   each other. Nothing imports the crate root (`crate::Foo`): items are named by their own
//!   module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers, lowest first: `(module or module prefix, layer)`. The longest prefix decides.
const LAYERS: &[(&str, u8)] = &[
    // Foundations: no state, no I/O of their own.
    ("error", 0),
    ("clock", 0),
    ("pki", 0),
    ("policy", 0),
    ("tls::error", 0),
    ("control", 0),
    ("misbehave", 0),
    // Configuration and the files around it.
    ("config", 1),
    ("profile", 1),
    ("revocation", 1),
    ("admin", 1),
    // Storage: the node's database, epochs, the audit log, budgets and replay ids.
    ("store", 2),
    ("epoch", 2),
    ("budget", 2),
    ("replay", 2),
    ("audit", 2),
    ("import", 2),
    ("followup::store", 2),
    // Transport: TLS and frames over QUIC streams.
    ("tls", 3),
    ("net", 3),
    // Components: each owns its state behind narrow methods.
    ("holder", 4),
    ("querier", 4),
    ("partner_client", 4),
    ("governance", 4),
    ("limits", 4),
    ("metrics", 4),
    // The two sides of an exchange (see SIDES).
    ("answer", 5),
    ("followup::holder", 5),
    ("query", 5),
    ("followup::querier", 5),
    ("followup", 5),
    // Serving: control commands, the QUIC server, the node, and the CLI's client.
    ("cmd", 6),
    ("server", 7),
    ("node", 8),
    ("client", 8),
    ("local", 9),
    ("layers", 9),
];

/// The holder's side and the querier's side: neither imports the other.
const SIDES: [&[&str]; 2] = [
    &["holder", "answer", "followup::holder", "server::partner"],
    &["querier", "partner_client", "query", "followup::querier"],
];

/// A module's path from the crate root (`""` is the root).
type Module = String;

/// Removes comments, string and character literals (keeping lifetimes), so that only code
/// is searched for paths.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            'r' if matches!(c.get(i + 1), Some('"' | '#'))
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= c.len() {
                        break;
                    }
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' if c.get(i + 1) == Some(&'\\') => {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            '\'' if c.get(i + 2) == Some(&'\'') => {
                i += 3;
                out.push_str("' '");
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// Removes `#[cfg(test)]` items (test modules may import anything).
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        // The item ends at its first `;` outside braces, or at the brace closing its body.
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, ch) in after.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}, self}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_string()];
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (k, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| match p.as_str() {
            "self" => prefix.to_string(),
            _ if prefix.is_empty() => p,
            _ => format!("{prefix}::{p}"),
        })
        .collect()
}

/// Every path a module's code names that starts with `crate`, `super` or `self`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` trees (they may group paths in braces).
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        rest = after;
        if before.is_some_and(|b| b.is_alphanumeric() || b == '_') {
            continue;
        }
        if let Some(end) = after.find(';') {
            out.extend(expand(&after[..end]));
        }
    }
    // Inline paths.
    let bytes: Vec<char> = code.chars().collect();
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if starts_word && is_ident(bytes[i]) {
            let mut j = i;
            let mut path = String::new();
            loop {
                let start = j;
                while j < bytes.len() && is_ident(bytes[j]) {
                    j += 1;
                }
                path.extend(&bytes[start..j]);
                if bytes.get(j) == Some(&':')
                    && bytes.get(j + 1) == Some(&':')
                    && bytes.get(j + 2).is_some_and(|c| is_ident(*c))
                {
                    path.push_str("::");
                    j += 2;
                } else {
                    break;
                }
            }
            if path.contains("::")
                && ["crate::", "super::", "self::"]
                    .iter()
                    .any(|p| path.starts_with(p))
            {
                out.push(path);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The module a path written in `from` names: the longest known module it starts with.
fn resolve(from: &str, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segs: Vec<&str> = path.split("::").map(str::trim).collect();
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    match segs.first().copied() {
        Some("crate") => {
            base.clear();
            segs.remove(0);
        }
        Some("super") => {
            while segs.first() == Some(&"super") {
                base.pop();
                segs.remove(0);
            }
        }
        Some("self") => {
            segs.remove(0);
        }
        _ => return None,
    }
    base.extend(segs);
    // The root is always there, even in a tree of a test's own.
    (1..=base.len())
        .rev()
        .map(|n| base[..n].join("::"))
        .find(|m| modules.contains(m))
        .or(Some(String::new()))
}

/// A module's file path to its module path: `a/mod.rs` and `a.rs` are `a`, `lib.rs` the root.
fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_string());
        }
    }
    parts.join("::")
}

/// The import graph of the sources `(module, text)`: module → modules it imports.
fn graph(sources: &[(Module, String)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, text) in sources {
        let code = without_tests(&code_only(text));
        let edges = g.entry(m.clone()).or_default();
        for p in paths(&code) {
            let Some(to) = resolve(m, &p, &modules) else {
                continue;
            };
            // Oneself, and one's own parts, are no edge.
            let own_part = to == *m || m.is_empty() || to.starts_with(&format!("{m}::"));
            if !own_part {
                edges.insert(to);
            }
        }
    }
    g
}

/// A cycle of the graph, if there is one, as the modules along it.
fn find_cycle(g: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        m: &Module,
        g: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.clone());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.clone());
        for to in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(to, g, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.clone());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|m| visit(m, g, &mut done, &mut Vec::new()))
}

/// The layer of a module: its longest prefix in the table.
fn layer_of(m: &str, layers: &[(&str, u8)]) -> Option<u8> {
    layers
        .iter()
        .filter(|(p, _)| m == *p || m.starts_with(&format!("{p}::")))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, l)| *l)
}

/// Which side a module is on, if any.
fn side_of(m: &str, sides: &[&[&str]; 2]) -> Option<usize> {
    sides.iter().position(|s| {
        s.iter()
            .any(|p| m == *p || m.starts_with(&format!("{p}::")))
    })
}

/// Every broken rule, one sentence each.
fn violations(
    g: &BTreeMap<Module, BTreeSet<Module>>,
    layers: &[(&str, u8)],
    sides: &[&[&str]; 2],
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = find_cycle(g) {
        out.push(format!("import cycle: {}", c.join(" -> ")));
    }
    for (from, tos) in g {
        if from.is_empty() {
            continue;
        }
        let Some(lf) = layer_of(from, layers) else {
            out.push(format!("module `{from}` has no layer in LAYERS"));
            continue;
        };
        for to in tos {
            if to.is_empty() {
                out.push(format!(
                    "`{from}` imports from the crate root; name the item by its module"
                ));
                continue;
            }
            match layer_of(to, layers) {
                Some(lt) if lt > lf => out.push(format!(
                    "`{from}` (layer {lf}) imports `{to}` (layer {lt}), a higher layer"
                )),
                _ => {}
            }
            if let (Some(a), Some(b)) = (side_of(from, sides), side_of(to, sides)) {
                if a != b {
                    out.push(format!("`{from}` and `{to}` are on opposite sides"));
                }
            }
        }
    }
    out
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(Module, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("node/src is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs")
            && p.file_name().is_some_and(|n| n != "tests.rs")
        {
            let rel = p.strip_prefix(root).expect("under src");
            let text = std::fs::read_to_string(&p).expect("a source file is readable");
            out.push((module_of(rel), text));
        }
    }
}

#[test]
fn node_modules_form_layers_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut src = Vec::new();
    sources(&root, &root, &mut src);
    assert!(src.len() > 40, "only {} modules found", src.len());
    let g = graph(&src);
    // The scan sees the imports it must: a few that the design relies on.
    for (from, to) in [
        ("answer", "holder"),
        ("holder::import", "audit"),
        ("query::exchange", "querier"),
        ("server::partner", "answer"),
        ("cmd::query", "query"),
        ("config", "error"),
    ] {
        assert!(
            g.get(from).is_some_and(|e| e.contains(to)),
            "the scan missed `{from}` importing `{to}`"
        );
    }
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(edges > 150, "only {edges} imports found");
    let broken = violations(&g, LAYERS, &SIDES);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_checker_finds_cycles_layer_breaches_and_crossed_sides() {
    let src = |m: &str, t: &str| (m.to_string(), t.to_string());
    let layers: &[(&str, u8)] = &[("a", 0), ("b", 0), ("c", 1), ("h", 1), ("q", 1)];
    let sides: [&[&str]; 2] = [&["h"], &["q"]];
    // A cycle through a grouped `use` and an inline path, hidden among comments and strings.
    let g = graph(&[
        src("a", "use crate::{b::Thing, c};\n// crate::q::x\nfn f() {}"),
        src("b", "fn g() { let s = \"crate::q\"; crate::a::f(); }"),
        src("c", "use super::a;"),
        src(
            "h",
            "#[cfg(test)]\nmod tests { use crate::q; }\nuse crate::q::X;",
        ),
        src("q", "use crate::Root;"),
    ]);
    assert_eq!(g["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    let broken = violations(&g, layers, &sides);
    assert!(
        broken
            .iter()
            .any(|v| v.starts_with("import cycle: a -> b -> a")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|v| v.contains("`a` (layer 0) imports `c` (layer 1)")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|v| v.contains("opposite sides")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|v| v.contains("crate root")),
        "{broken:?}"
    );
    // A parent driving its own parts is no cycle; a part importing its parent is an edge.
    let g = graph(&[
        src("p", "pub use self::k::Item; use crate::p::k::f;"),
        src("p::k", "use super::Parent;"),
    ]);
    assert!(g["p"].is_empty());
    assert_eq!(g["p::k"], BTreeSet::from(["p".to_string()]));
    assert!(find_cycle(&g).is_none());
}
