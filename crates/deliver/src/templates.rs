//! The messages email sends, as templates a team can override: `alert_subject.txt`, `alert.txt` and
//! `alert.html` (built in from `crates/deliver/templates/`). A file of the same name in `[delivery]
//! templates` (a folder, relative to the config file) replaces the built-in one; any other file there (but
//! hidden ones) is refused by name, so a misspelt override is not silently ignored. Templates are MiniJinja (Jinja2 syntax); `.html` ones
//! escape what they print. Every template is parsed when the settings are read, so a mistake is reported
//! with the file and line before anything is sent.
//!
//! What an alert's templates see: `subject` (not in `alert_subject.txt`), `closed`, `kind` (in words),
//! `account`, `severity`, `explanation`, `play`, `facts` (a list of `label`, `value`: health, priority, churn
//! probability, ARR, owner), `signal_id`, `detected_at`, `as_of`, `link`, `escalation` (why a leader gets
//! it) and `raised` (`Raised from medium to high while open`, when the signal grew into the alert), each
//! empty when the alert lacks it.

use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

/// The built-in templates, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "alert_subject.txt",
        include_str!("../templates/alert_subject.txt"),
    ),
    ("alert.txt", include_str!("../templates/alert.txt")),
    ("alert.html", include_str!("../templates/alert.html")),
];

/// The templates in force: the built-in ones, with those of a folder over them.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates, with each file of `folder` of a built-in's name over it; the error names the
    /// file, the line and what is wrong.
    pub fn load(folder: Option<&Path>) -> Result<Templates, String> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        for (name, built_in) in BUILT_IN {
            let own = folder.map(|f| f.join(name)).filter(|p| p.is_file());
            let source = match &own {
                Some(p) => std::fs::read_to_string(p).map_err(|e| {
                    format!("[delivery] templates: {} cannot be read: {e}", p.display())
                })?,
                None => built_in.to_string(),
            };
            let shown = own.as_ref().map_or_else(
                || format!("the built-in {name}"),
                |p| p.display().to_string(),
            );
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| format!("[delivery] templates: {shown}: {}", describe(&e)))?;
        }
        if let Some(f) = folder {
            let names = || {
                BUILT_IN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let entries = std::fs::read_dir(f).map_err(|e| {
                format!(
                    "[delivery] templates = \"{}\" is not a folder that can be read ({e}); it holds {}",
                    f.display(),
                    names()
                )
            })?;
            // A file that replaces nothing is a mistake to name, not to ignore (`alert.htm`, `subject.txt`).
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || BUILT_IN.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                return Err(format!(
                    "[delivery] templates: {} is not a template email sends (those are {}): rename it to one of them, or move it out of the folder",
                    entry.path().display(),
                    names()
                ));
            }
        }
        Ok(Templates { env })
    }

    /// Renders template `name` with `context`.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| format!("template {name}: {}", describe(&e)))?;
        t.render(minijinja::Value::from_serialize(context))
            .map_err(|e| format!("template {name}: {}", describe(&e)))
    }
}

/// A MiniJinja error in words, with its line.
fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(l) => format!("line {l}: {e}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_overrides_a_built_in_and_a_mistake_names_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("alert_subject.txt"),
            "ALERT {{ account }}: {{ kind }}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let ctx = serde_json::json!({"account": "acme", "kind": "usage drop", "facts": []});
        assert_eq!(
            t.render("alert_subject.txt", &ctx).unwrap(),
            "ALERT acme: usage drop"
        );
        // The others stay built in; HTML escapes what it prints.
        let html = t
            .render(
                "alert.html",
                &serde_json::json!({"subject": "<b>x</b>", "explanation": "a & b", "facts": []}),
            )
            .unwrap();
        assert!(
            html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;x&lt;/b&gt;"),
            "{html}"
        );
        assert!(html.contains("a &amp; b"), "{html}");
        std::fs::write(dir.path().join("alert.txt"), "line one\n{% if %}\n").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err();
        assert!(e.contains("alert.txt") && e.contains("line 2"), "{e}");
        assert!(Templates::load(Some(&dir.path().join("missing")))
            .unwrap_err()
            .contains("not a folder"));
        std::fs::write(dir.path().join("alert.txt"), "{{ subject }}\n").unwrap();
        std::fs::write(dir.path().join(".alert.txt.swp"), "").unwrap();
        assert!(
            Templates::load(Some(dir.path())).is_ok(),
            "hidden files are passed over"
        );
        std::fs::write(dir.path().join("alert.htm"), "<p>{{ subject }}</p>").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            e.contains("alert.htm is not a template") && e.contains("alert.html"),
            "{e}"
        );
    }
}
