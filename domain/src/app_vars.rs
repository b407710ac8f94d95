//! App variables: named values an app's agents, tools and routines refer to
//! as `{{vars.NAME}}` (spaces inside the braces allowed), put in when they
//! run, so a key or a base URL is changed in one place. A secret value is
//! sealed like other app secrets and never returned. Text that names a
//! variable the app does not have is refused when it is saved; a variable
//! deleted afterwards makes the run that needs it fail, saying which.

use std::collections::HashSet;

use crate::{DomainError, DomainResult};

pub const MAX_VAR_NAME_CHARS: usize = 64;
pub const MAX_VAR_VALUE_CHARS: usize = 4_096;
/// Variables one app may have.
pub const MAX_APP_VARS: u64 = 200;
/// The seal purpose of a secret value; the row is the variable's name.
pub const VAR_SEAL_PURPOSE: &str = "app_var";

/// A name: an upper-case letter or `_`, then upper-case letters, digits
/// and `_`, at most 64 (as environment variables are written).
pub fn var_name(field: &str, value: &str) -> DomainResult<String> {
    let mut bytes = value.bytes();
    let valid = value.len() <= MAX_VAR_NAME_CHARS
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be 1 to {MAX_VAR_NAME_CHARS} of A-Z, 0-9 and `_`, not starting with a digit (API_KEY, BASE_URL)"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// A value: at most 4,096 characters, no NUL.
pub fn var_value(field: &str, value: &str) -> DomainResult<String> {
    crate::validation::no_nul(field, value)?;
    if value.chars().count() > MAX_VAR_VALUE_CHARS {
        return Err(DomainError::bad_input(
            field,
            format!("must be at most {MAX_VAR_VALUE_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Each `{{vars.NAME}}` in `text`: its span and its name.
fn references(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|at| from + at) {
        let Some(close) = text[open + 2..].find("}}").map(|at| open + 2 + at) else {
            break;
        };
        let inner = text[open + 2..close].trim();
        match inner.strip_prefix("vars.") {
            Some(name) => {
                found.push((open..close + 2, name));
                from = close + 2;
            }
            None => from = open + 2,
        }
    }
    found
}

/// The names `text` refers to, each once, in order.
pub fn referenced(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (_, name) in references(text) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Refuses `text` (the input `field`) when it names a variable `known`
/// does not hold.
pub fn check_known(field: &str, text: &str, known: &HashSet<String>) -> DomainResult<()> {
    match referenced(text)
        .into_iter()
        .find(|name| !known.contains(*name))
    {
        Some(name) => Err(DomainError::bad_input(
            field,
            format!(
                "refers to {{{{vars.{name}}}}}, which the app does not have: set it with setAppVar first"
            ),
        )),
        None => Ok(()),
    }
}

/// `text` with every `{{vars.NAME}}` put in from `value_of`; `Err` names
/// the first variable it lacks.
pub fn substitute(text: &str, value_of: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (span, name) in references(text) {
        let value = value_of(name).ok_or_else(|| name.to_owned())?;
        out.push_str(&text[last..span.start]);
        out.push_str(&value);
        last = span.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_written_as_environment_variables() {
        assert!(var_name("name", "WEATHER_API_KEY").is_ok());
        assert!(var_name("name", "_X1").is_ok());
        for bad in ["", "api_key", "1ST", "A-B", &"A".repeat(65)] {
            assert!(var_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_are_found_and_put_in() {
        let text = "Bearer {{vars.KEY}} for {{ vars.CITY }}, not {{other}} or {{vars.KEY}}";
        assert_eq!(referenced(text), ["KEY", "CITY"]);
        let value = |name: &str| match name {
            "KEY" => Some("k".to_owned()),
            "CITY" => Some("Oslo".to_owned()),
            _ => None,
        };
        assert_eq!(
            substitute(text, value).as_deref(),
            Ok("Bearer k for Oslo, not {{other}} or k")
        );
        assert_eq!(substitute("{{vars.NOPE}}", value), Err("NOPE".to_owned()));
        assert_eq!(
            substitute("no braces {{", value).as_deref(),
            Ok("no braces {{")
        );
    }

    #[test]
    fn unknown_names_are_refused_on_their_field() {
        let known: HashSet<String> = ["KEY".to_owned()].into();
        assert!(check_known("instructions", "use {{vars.KEY}}", &known).is_ok());
        let error = check_known("instructions", "use {{vars.OTHER}}", &known)
            .expect_err("OTHER is not set");
        assert_eq!(error.field.as_deref(), Some("instructions"));
        assert!(error.message.contains("vars.OTHER"), "{}", error.message);
    }
}
