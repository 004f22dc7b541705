//! `${VAR}` in compose files, replaced the way `docker stack deploy` and `docker compose`
//! do before anything else reads the values: `$VAR`, `${VAR}`, `${VAR:-default}` (unset
//! or empty), `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (an error),
//! `${VAR:+other}` / `${VAR+other}`, and `$$` for a literal `$`. Defaults may hold
//! variables themselves.

use std::collections::HashMap;

/// Why a value could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${VAR:?message}` with VAR unset (or empty): the file's author requires it.
    Required { variable: String, message: String },
    /// A `${` without its `}`, or a name that is not one.
    Invalid { text: String },
}

impl std::fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpolationError::Required { variable, message } if message.is_empty() => {
                write!(f, "the variable {variable} must be set")
            }
            InterpolationError::Required { variable, message } => {
                write!(f, "the variable {variable} must be set: {message}")
            }
            InterpolationError::Invalid { text } => {
                write!(f, "{text:?} is not a valid ${{VARIABLE}} reference")
            }
        }
    }
}

/// The variables a compose file is interpolated from, and the names it used that were
/// not set (compose warns about those and reads them as empty).
pub struct Variables<'a> {
    pub values: &'a HashMap<String, String>,
    pub unset: Vec<String>,
}

impl<'a> Variables<'a> {
    pub fn new(values: &'a HashMap<String, String>) -> Self {
        Variables {
            values,
            unset: Vec::new(),
        }
    }

    /// `text` with every reference replaced.
    pub fn interpolate(&mut self, text: &str) -> Result<String, InterpolationError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                out.push('$');
                rest = after;
            } else if let Some(inner) = rest.strip_prefix('{') {
                let end = closing_brace(inner).ok_or_else(|| InterpolationError::Invalid {
                    text: format!("${{{inner}"),
                })?;
                out.push_str(&self.braced(&inner[..end])?);
                rest = &inner[end + 1..];
            } else {
                let name_len = name_length(rest);
                if name_len == 0 {
                    // A lone `$` followed by no name stays as written.
                    out.push('$');
                    continue;
                }
                out.push_str(&self.lookup(&rest[..name_len]).unwrap_or_default());
                rest = &rest[name_len..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of `${inner}`.
    fn braced(&mut self, inner: &str) -> Result<String, InterpolationError> {
        let name_len = name_length(inner);
        let (name, operator) = inner.split_at(name_len);
        if name.is_empty() {
            return Err(InterpolationError::Invalid {
                text: format!("${{{inner}}}"),
            });
        }
        let value = self.values.get(name).cloned();
        let (empty_counts, operator) = match operator.strip_prefix(':') {
            Some(rest) => (true, rest),
            None => (false, operator),
        };
        let missing = value
            .as_deref()
            .is_none_or(|v| empty_counts && v.is_empty());
        let mut chars = operator.chars();
        let argument = chars.as_str().get(1..).unwrap_or_default();
        match chars.next() {
            None if !empty_counts => Ok(self.lookup(name).unwrap_or_default()),
            Some('-') if missing => self.interpolate(argument),
            Some('-') => Ok(value.unwrap_or_default()),
            Some('?') if missing => Err(InterpolationError::Required {
                variable: name.to_string(),
                message: self.interpolate(argument)?,
            }),
            Some('?') => Ok(value.unwrap_or_default()),
            Some('+') if missing => Ok(String::new()),
            Some('+') => self.interpolate(argument),
            _ => Err(InterpolationError::Invalid {
                text: format!("${{{inner}}}"),
            }),
        }
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        let value = self.values.get(name).cloned();
        if value.is_none() && !self.unset.iter().any(|n| n == name) {
            self.unset.push(name.to_string());
        }
        value
    }
}

/// Length of the variable name `text` starts with (letters, digits, `_`; not a digit
/// first).
fn name_length(text: &str) -> usize {
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well {
        return 0;
    }
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// Where the `}` closing a `${` sits in `text` (which follows the `{`), past any nested
/// `${...}` of a default.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (at, byte) in bytes.iter().enumerate() {
        match byte {
            b'{' if at > 0 && bytes[at - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(at),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<String, InterpolationError> {
        let values = HashMap::from([
            ("TAG".to_string(), "1.25".to_string()),
            ("EMPTY".to_string(), String::new()),
            ("PORT".to_string(), "8080".to_string()),
        ]);
        Variables::new(&values).interpolate(text)
    }

    #[test]
    fn replaces_every_form_compose_knows() {
        assert_eq!(run("nginx:${TAG}").unwrap(), "nginx:1.25");
        assert_eq!(run("nginx:$TAG-alpine").unwrap(), "nginx:1.25-alpine");
        assert_eq!(run("${PORT}:80").unwrap(), "8080:80");
        assert_eq!(run("${MISSING:-3}").unwrap(), "3");
        assert_eq!(run("${EMPTY:-3}").unwrap(), "3");
        assert_eq!(run("${EMPTY-3}").unwrap(), "");
        assert_eq!(run("${MISSING-3}").unwrap(), "3");
        assert_eq!(run("${MISSING:-${PORT}}").unwrap(), "8080");
        assert_eq!(run("${TAG:+set}/${MISSING:+set}").unwrap(), "set/");
        assert_eq!(run("cost $$5 and $").unwrap(), "cost $5 and $");
        assert_eq!(run("${TAG?needed}").unwrap(), "1.25");
    }

    #[test]
    fn a_required_variable_that_is_unset_is_an_error_with_its_message() {
        assert_eq!(
            run("${DB_HOST:?set DB_HOST to the database}"),
            Err(InterpolationError::Required {
                variable: "DB_HOST".to_string(),
                message: "set DB_HOST to the database".to_string(),
            })
        );
        assert_eq!(
            run("${EMPTY:?}").unwrap_err().to_string(),
            "the variable EMPTY must be set"
        );
        assert_eq!(
            run("${TAG").unwrap_err().to_string(),
            "\"${TAG\" is not a valid ${VARIABLE} reference"
        );
    }

    #[test]
    fn unset_variables_read_as_empty_and_are_remembered_once() {
        let values = HashMap::new();
        let mut variables = Variables::new(&values);
        assert_eq!(variables.interpolate("a${X}b$X${Y}").unwrap(), "ab");
        assert_eq!(variables.unset, ["X", "Y"]);
    }
}
