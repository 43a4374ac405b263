//! A bench's own section of a Markdown file, between `<!-- NAME:begin -->` and
//! `<!-- NAME:end -->`, replaced on every run and appended at the end the first time.

use anyhow::bail;

/// `doc` with the section `name` holding `body` (markers included).
pub(super) fn replace_section(doc: &str, name: &str, body: &str) -> anyhow::Result<String> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let body = body.trim_end_matches('\n');
    let block = format!("{begin}\n{body}\n{end}");
    match (doc.find(&begin), doc.find(&end)) {
        (None, None) => {
            let mut out = doc.trim_end_matches('\n').to_string();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&block);
            out.push('\n');
            Ok(out)
        }
        (Some(b), Some(e)) if b < e => {
            if doc[b + begin.len()..].matches(&begin).count() > 0
                || doc[e + end.len()..].matches(&end).count() > 0
            {
                bail!("the file has the `{begin}` section more than once; keep one and run again");
            }
            Ok(format!("{}{block}{}", &doc[..b], &doc[e + end.len()..]))
        }
        _ => bail!(
            "the file has `{begin}` and `{end}` out of order or one without the other; fix the markers and run again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_then_replaces_in_place() {
        let doc = "# Bench\n\ntext\n";
        let once = replace_section(doc, "scaling", "first\n").unwrap();
        assert_eq!(
            once,
            "# Bench\n\ntext\n\n<!-- scaling:begin -->\nfirst\n<!-- scaling:end -->\n"
        );
        let with_tail = format!("{once}\n## After\n");
        let twice = replace_section(&with_tail, "scaling", "second\nlines").unwrap();
        assert_eq!(
            twice,
            "# Bench\n\ntext\n\n<!-- scaling:begin -->\nsecond\nlines\n<!-- scaling:end -->\n\n## After\n"
        );
        // Other sections are left alone.
        let other = replace_section(&twice, "compare", "c").unwrap();
        assert!(other.contains("second\nlines") && other.ends_with("<!-- compare:end -->\n"));
        assert_eq!(
            replace_section("", "scaling", "x").unwrap(),
            "<!-- scaling:begin -->\nx\n<!-- scaling:end -->\n"
        );
    }

    #[test]
    fn broken_markers_are_refused() {
        for doc in [
            "<!-- scaling:begin -->\nno end\n",
            "no begin\n<!-- scaling:end -->\n",
            "<!-- scaling:end -->\n<!-- scaling:begin -->\n",
            "<!-- scaling:begin -->\n<!-- scaling:end -->\n<!-- scaling:begin -->\n<!-- scaling:end -->\n",
        ] {
            assert!(replace_section(doc, "scaling", "x").is_err(), "{doc}");
        }
    }
}
