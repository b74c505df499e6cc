//! Diagrams of a small flow, asserted exactly.

use super::*;

fn small() -> Flow {
    load_ok(&flow_text(
        "inbound",
        "ask",
        "  ask:\n    type: get_customer_input\n    prompt: greeting\n    \
         branches: [{ digits: \"#\", next: bye }]\n    on_no_match: ask\n    on_timeout: bye\n    \
         on_error: bye\n  bye: { type: disconnect }\n",
    ))
}

#[test]
fn mermaid_flowchart() {
    assert_eq!(
        crate::flow::render::mermaid(&small()),
        "flowchart TD\n\
         \x20   b0([\"ask<br/>get_customer_input\"])\n\
         \x20   b1[\"bye<br/>disconnect\"]\n\
         \x20   b0 -->|\"digits #35;\"| b1\n\
         \x20   b0 -->|\"on_no_match\"| b0\n\
         \x20   b0 -->|\"on_timeout\"| b1\n\
         \x20   b0 -->|\"on_error\"| b1\n"
    );
}

#[test]
fn graphviz_dot() {
    assert_eq!(
        crate::flow::render::dot(&small()),
        "digraph \"t\" {\n\
         \x20   node [shape=box];\n\
         \x20   b0 [label=\"ask\\nget_customer_input\", style=rounded];\n\
         \x20   b1 [label=\"bye\\ndisconnect\"];\n\
         \x20   b0 -> b1 [label=\"digits #\"];\n\
         \x20   b0 -> b0 [label=\"on_no_match\"];\n\
         \x20   b0 -> b1 [label=\"on_timeout\"];\n\
         \x20   b0 -> b1 [label=\"on_error\"];\n\
         }\n"
    );
}
