//! One pass over a YAML file's parser events that finds its documents and where every
//! field of each document sits.
//!
//! serde tells us where a value failed to deserialize, but the rules that run after
//! deserializing (a reservation above its limit, an undeclared network) need to point at a
//! field too. This index maps field paths such as `spec.ports[1].published` to their line
//! and column, so every rule can name the exact place it is about.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

/// A line and column, both counting from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Where a field's key and value are written.
#[derive(Clone, Debug)]
struct FieldSite {
    key: Option<LineCol>,
    value: LineCol,
    /// A mapping or sequence, whose value position is that of its first child.
    collection: bool,
    scalar: Option<String>,
}

/// One YAML document of a file.
#[derive(Clone, Debug, Default)]
pub struct DocumentIndex {
    /// First and last line (1-based, inclusive) the document occupies.
    pub first_line: usize,
    pub last_line: usize,
    /// Where the root node starts; `None` for an empty document (only comments).
    pub root: Option<LineCol>,
    /// Whether the root node is a mapping.
    pub root_is_mapping: bool,
    fields: HashMap<String, FieldSite>,
}

impl DocumentIndex {
    /// Where the value at `path` starts, or its nearest written ancestor's, or the root.
    pub fn locate(&self, path: &str) -> LineCol {
        let mut path = path;
        loop {
            if let Some(site) = self.fields.get(path) {
                // A collection is best pointed at by its key (`spec:`), not its first child.
                return match site.key {
                    Some(key) if site.collection => key,
                    _ => site.value,
                };
            }
            match parent_path(path) {
                Some(parent) => path = parent,
                None => {
                    return self.root.unwrap_or(LineCol {
                        line: self.first_line,
                        column: 1,
                    });
                }
            }
        }
    }

    /// Whether the document writes a value at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.fields.contains_key(path)
    }

    /// The text of the scalar at `path`, if that is a scalar.
    pub fn scalar(&self, path: &str) -> Option<&str> {
        self.fields.get(path)?.scalar.as_deref()
    }

    /// Every written key: its path and where the key is.
    pub fn keys(&self) -> impl Iterator<Item = (&str, LineCol)> {
        self.fields
            .iter()
            .filter_map(|(path, site)| Some((path.as_str(), site.key?)))
    }

    /// The path of the field whose value starts at `at` (deepest first), used to name the
    /// field in a deserialization error.
    pub fn path_at(&self, at: LineCol) -> Option<&str> {
        // serde reports a missing field at the start of its mapping, which is also where the
        // mapping's first key sits: the mapping is meant, so it ranks first.
        let rank = |site: &FieldSite| {
            if site.collection && site.value == at {
                Some(2)
            } else if site.key == Some(at) {
                Some(1)
            } else if site.value == at {
                Some(0)
            } else {
                None
            }
        };
        self.fields
            .iter()
            .filter_map(|(path, site)| Some(((rank(site)?, path.len()), path.as_str())))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, path)| path)
    }
}

/// The path of the mapping or list holding `path` (`spec.mounts[0]` for
/// `spec.mounts[0].source`; "" for a top-level key); `None` for "".
pub(crate) fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// A YAML syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: LineCol,
    pub message: String,
}

enum Frame {
    Mapping {
        path: String,
        key: Option<(String, LineCol)>,
    },
    Sequence {
        path: String,
        next_index: usize,
    },
}

/// Indexes every document of `text`.
pub fn index(text: &str) -> Result<Vec<DocumentIndex>, SyntaxError> {
    let mut documents = Vec::new();
    let mut current: Option<DocumentIndex> = None;
    let mut stack: Vec<Frame> = Vec::new();

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| {
            let marker = error.marker();
            SyntaxError {
                at: LineCol {
                    line: marker.line(),
                    column: marker.col() + 1,
                },
                message: strip_position(&error.to_string()),
            }
        })?;
        let at = LineCol {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        match event {
            Event::DocumentStart(..) => {
                if let Some(mut done) = current.take() {
                    done.last_line = done.last_line.max(done.first_line).min(at.line - 1);
                    documents.push(done);
                }
                current = Some(DocumentIndex {
                    first_line: at.line,
                    last_line: at.line,
                    ..DocumentIndex::default()
                });
            }
            Event::DocumentEnd => {
                if let Some(document) = current.as_mut() {
                    document.last_line = span.end.line().max(document.first_line);
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            ref node if node.is_node() => {
                if let Some(document) = current.as_mut() {
                    index_node(document, &mut stack, node, at);
                }
            }
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        documents.push(done);
    }
    let line_count = text.lines().count().max(1);
    for document in &mut documents {
        document.last_line = document.last_line.min(line_count);
    }
    Ok(documents)
}

/// Records a node (a scalar, or where a mapping or sequence starts) of `document`.
fn index_node(document: &mut DocumentIndex, stack: &mut Vec<Frame>, node: &Event<'_>, at: LineCol) {
    // A mapping key is a node too: remember it, it names the next value.
    if let Some(Frame::Mapping { key, .. }) = stack.last_mut()
        && key.is_none()
    {
        let name = match node {
            Event::Scalar(text, ..) => text.to_string(),
            _ => "?".to_string(),
        };
        *key = Some((name, at));
        if !matches!(node, Event::Scalar(..)) {
            // A complex key: skip its contents by giving them a throwaway frame.
            push_frame(stack, node, "?".to_string());
        }
        return;
    }
    let (path, key_at) = value_path(stack);
    // A document with only `---` and comments parses as a null scalar: empty.
    let null_root =
        matches!(node, Event::Scalar(text, ..) if matches!(text.as_ref(), "" | "~" | "null"));
    if path.is_empty() && !null_root {
        document.root = Some(at);
        document.root_is_mapping = matches!(node, Event::MappingStart(..));
    }
    let scalar = match node {
        Event::Scalar(text, ..) => Some(text.to_string()),
        _ => None,
    };
    document.fields.entry(path.clone()).or_insert(FieldSite {
        key: key_at,
        value: at,
        collection: scalar.is_none(),
        scalar,
    });
    push_frame(stack, node, path);
}

/// The path of the value that comes next where the stack stands, and where its key is
/// (values in sequences have none).
fn value_path(stack: &mut [Frame]) -> (String, Option<LineCol>) {
    match stack.last_mut() {
        None => (String::new(), None),
        Some(Frame::Mapping { path, key }) => {
            let (key, key_at) = key.take().unwrap_or_default();
            let path = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            (path, Some(key_at))
        }
        Some(Frame::Sequence { path, next_index }) => {
            *next_index += 1;
            (format!("{path}[{}]", *next_index - 1), None)
        }
    }
}

fn push_frame(stack: &mut Vec<Frame>, node: &Event<'_>, path: String) {
    match node {
        Event::MappingStart(..) => stack.push(Frame::Mapping { path, key: None }),
        Event::SequenceStart(..) => stack.push(Frame::Sequence {
            path,
            next_index: 0,
        }),
        _ => {}
    }
}

/// Parser and serde messages end with " at line N, column M"; we print the position
/// ourselves, in front.
pub fn strip_position(message: &str) -> String {
    let message = message.lines().next().unwrap_or_default();
    let cut = [" at line ", " at char "]
        .iter()
        .filter_map(|marker| message.rfind(marker))
        .min();
    match cut {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

/// The byte offset where each line of `text` starts: computed once per file, so that
/// cutting out each of its documents costs nothing more.
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect()
}

/// The text of one document alone (its lines), and how many lines of the file come
/// before it: a parser's line numbers within it plus that are the file's. Cutting, not
/// copying the file with the other documents blanked, keeps loading a file of many
/// documents linear.
pub fn isolate<'a>(
    text: &'a str,
    line_starts: &[usize],
    document: &DocumentIndex,
) -> (&'a str, usize) {
    let offset = document.first_line.saturating_sub(1);
    let start = line_starts.get(offset).copied().unwrap_or(text.len());
    let end = line_starts
        .get(document.last_line)
        .copied()
        .unwrap_or(text.len());
    (&text[start..end.max(start)], offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_DOCUMENTS: &str = "\
# leading comment
kind: Service
spec:
  ports:
    - target: 80
      published: 8080
    - target: 443
  labels: {a: b}
---
kind: Network
metadata:
  name: backend
";

    #[test]
    fn documents_and_field_positions_are_indexed() {
        let documents = index(TWO_DOCUMENTS).unwrap();
        assert_eq!(documents.len(), 2);
        let first = &documents[0];
        assert_eq!((first.first_line, first.last_line), (2, 8));
        assert_eq!(first.scalar("kind"), Some("Service"));
        assert_eq!(
            first.locate("spec.ports[0].published"),
            LineCol {
                line: 6,
                column: 18
            }
        );
        assert_eq!(
            first.locate("spec.ports[1].target"),
            LineCol {
                line: 7,
                column: 15
            }
        );
        assert_eq!(
            first.locate("spec.labels.a"),
            LineCol {
                line: 8,
                column: 15
            }
        );
        // A field that is not written falls back to its nearest ancestor.
        assert_eq!(
            first.locate("spec.ports[1].published"),
            LineCol { line: 7, column: 7 }
        );
        // A collection is located at its key.
        assert_eq!(first.locate("spec.ports"), LineCol { line: 4, column: 3 });
        assert_eq!(first.locate("spec"), LineCol { line: 3, column: 1 });
        let second = &documents[1];
        assert_eq!((second.first_line, second.last_line), (9, 12));
        assert_eq!(second.scalar("metadata.name"), Some("backend"));
        assert_eq!(
            second.path_at(LineCol {
                line: 12,
                column: 9
            }),
            Some("metadata.name")
        );
    }

    #[test]
    fn isolating_a_document_cuts_its_lines_and_counts_those_before() {
        let documents = index(TWO_DOCUMENTS).unwrap();
        let starts = line_starts(TWO_DOCUMENTS);
        let (second, before) = isolate(TWO_DOCUMENTS, &starts, &documents[1]);
        assert_eq!(before, 8);
        assert_eq!(second, "---\nkind: Network\nmetadata:\n  name: backend\n");
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let error = index("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!(error.at.line, 3);
        assert!(!error.message.is_empty());
        assert!(!error.message.contains(" at line "));
    }
}
