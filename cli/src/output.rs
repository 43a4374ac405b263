//! Printing for people: errors as one sentence (plus details), tables, durations.

use cordon_node::NodeError;

/// Prints an error: the sentence, then any details (bad rows, ...), indented.
pub fn print_error(e: &anyhow::Error) {
    let mut msg = e.to_string();
    // Show the chain when the top message does not already say it all.
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    eprintln!("error: {msg}");
    if let Some(NodeError::Control { details, .. }) = e.downcast_ref::<NodeError>() {
        for d in details.iter().take(20) {
            eprintln!("  {d}");
        }
        if details.len() > 20 {
            eprintln!("  ... and {} more", details.len() - 20);
        }
    }
}

/// Renders rows as an aligned text table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Milliseconds for people.
pub fn ms(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} s", v as f64 / 1000.0)
    } else {
        format!("{v} ms")
    }
}
