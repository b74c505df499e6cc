//! Diagrams of a flow for `switchboard flows render`: Mermaid flowcharts (GitHub and most
//! wikis render them inline) and Graphviz DOT. One node per block, labelled with its id and
//! type, the start block drawn rounded; one edge per transition, labelled with its branch.
//! Node names in the output are generated (`b0`, `b1`, ... in file order) so block ids never
//! need escaping as identifiers; labels are escaped for each format.

use std::fmt::Write as _;

use super::model::Flow;

/// A Mermaid `flowchart TD` of `flow`.
pub fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, block) in flow.blocks.iter().enumerate() {
        let label = format!(
            "{}<br/>{}",
            mermaid_text(&block.id),
            block.kind.block_type()
        );
        if i == flow.start.index() {
            let _ = writeln!(out, "    b{i}([\"{label}\"])");
        } else {
            let _ = writeln!(out, "    b{i}[\"{label}\"]");
        }
    }
    for (i, block) in flow.blocks.iter().enumerate() {
        for t in block.kind.transitions() {
            let _ = writeln!(
                out,
                "    b{i} -->|\"{}\"| b{}",
                mermaid_text(&t.label),
                t.target.index()
            );
        }
    }
    out
}

/// A Graphviz `digraph` of `flow`.
pub fn dot(flow: &Flow) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n    node [shape=box];\n",
        dot_text(&flow.name)
    );
    for (i, block) in flow.blocks.iter().enumerate() {
        let style = if i == flow.start.index() {
            ", style=rounded"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    b{i} [label=\"{}\\n{}\"{style}];",
            dot_text(&block.id),
            block.kind.block_type()
        );
    }
    for (i, block) in flow.blocks.iter().enumerate() {
        for t in block.kind.transitions() {
            let _ = writeln!(
                out,
                "    b{i} -> b{} [label=\"{}\"];",
                t.target.index(),
                dot_text(&t.label)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid labels in quotes take entity codes for the characters that end or confuse them.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            _ => out.push(c),
        }
    }
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
