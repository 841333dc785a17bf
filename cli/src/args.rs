//! Command-line options, read by hand: `--name value` options and flags,
//! then positional arguments.

use authensor_policy::{DEFAULT_TEST_TENANT, MAX_TENANT_ID_BYTES, is_valid_tenant_id};

use crate::Trouble;

pub struct Args {
    options: Vec<(String, String)>,
    flags: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Reads `arguments`, knowing which names take a value and which are flags.
    pub fn parse(
        arguments: Vec<String>,
        with_value: &[&str],
        flags: &[&str],
    ) -> Result<Args, Trouble> {
        let mut parsed = Args {
            options: Vec::new(),
            flags: Vec::new(),
            positional: Vec::new(),
        };
        let mut arguments = arguments.into_iter();
        while let Some(argument) = arguments.next() {
            if argument == "--" {
                parsed.positional.extend(arguments.by_ref());
            } else if with_value.contains(&argument.as_str()) {
                // `--tool --args '{…}'` lacks the tool rather than naming it `--args`.
                let value = arguments
                    .next()
                    .filter(|value| {
                        !with_value.contains(&value.as_str()) && !flags.contains(&value.as_str())
                    })
                    .ok_or_else(|| Trouble(format!("{argument} needs a value")))?;
                if parsed.option(&argument).is_some() {
                    return Err(Trouble(format!("{argument} is given twice")));
                }
                parsed.options.push((argument, value));
            } else if flags.contains(&argument.as_str()) {
                parsed.flags.push(argument);
            } else if argument.starts_with("--") {
                return Err(Trouble(format!("unknown option {argument}")));
            } else {
                parsed.positional.push(argument);
            }
        }
        Ok(parsed)
    }

    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(option, _)| option == name)
            .map(|(_, value)| value.as_str())
    }

    /// `--tenant`, or the tenant of the test cases that name none: one a
    /// call can be made for.
    pub fn tenant(&self) -> Result<&str, Trouble> {
        let tenant = self.option("--tenant").unwrap_or(DEFAULT_TEST_TENANT);
        if !is_valid_tenant_id(tenant) {
            return Err(Trouble(format!(
                "--tenant: a tenant id is 1 to {MAX_TENANT_ID_BYTES} bytes of text without control characters"
            )));
        }
        Ok(tenant)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|flag| flag == name)
    }
}
