//! The authensor policy language: decides whether an AI agent may call a tool.
//!
//! A policy is a YAML document of ordered rules. [`compile()`] parses and validates
//! it once into an immutable [`Policy`]; [`Policy::evaluate`] gives that policy's
//! [`Verdict`] on a [`Request`]; [`decide()`] combines the platform policy with a
//! tenant's policy into the final [`Decision`].
//!
//! ```
//! use authensor_policy::{Action, Layer, Request, Value, compile, decide};
//!
//! let platform = compile("rules:\n  - tool: \"system.*\"\n    action: block\n").unwrap();
//! let tenant = compile(
//!     "rules:\n  - tool: email.send\n    action: allow\n    when:\n      args.to:\n        endsWith: \"@tenant-a.com\"\n",
//! )
//! .unwrap();
//! let args = Value::from_json(r#"{"to": "bob@tenant-a.com"}"#).unwrap();
//! let context = Value::from_json("{}").unwrap();
//! let request = Request { tool: "email.send", args: &args, context: &context, tenant_id: "tenant-a" };
//! let decision = decide(Some(&platform), Some(&tenant), &request);
//! assert_eq!((decision.action, decision.layer), (Action::Allow, Layer::Tenant));
//! ```
//!
//! # The language
//!
//! ```yaml
//! default: block            # optional: used when no rule matches
//! description: free text    # optional, ignored
//! rules:
//!   - id: external-email    # optional; defaults to rules[N]; unique
//!     tool: email.send      # optional glob, or list of globs; absent = any tool
//!     action: escalate      # allow | escalate | block
//!     reason: External emails need approval
//!     when:                 # optional; every entry must hold
//!       args.to:
//!         not:
//!           endsWith: "@${context.tenantId}.com"
//! ```
//!
//! Condition maps hold field paths (`tool`, `args[.path]`, `context[.path]`) and the
//! combinators `all`, `any` and `not`. Each path maps to an operator map of
//! `equals` (`eq`), `notEquals` (`neq`), `in`, `notIn`, `contains`, `startsWith`,
//! `endsWith`, `matches`, `gt`, `gte`, `lt`, `lte` and `exists`, which may again
//! be combined with `all`, `any` and `not`.
//!
//! Values are JSON ([`Value`]) with numbers as exact decimals ([`Number`]):
//! `10.50` equals `10.5`, and a number of any size decides like any other.
//! An operator on a missing path is false, except `notEquals`, `notIn` and
//! `exists: false`, which are true; a type mismatch is false. String operands of
//! `equals`, `notEquals`, `in`, `notIn`, `contains`, `startsWith` and `endsWith`
//! may contain `${context.<path>}`: an operand that is one placeholder alone
//! compares as the context value itself (a string, number or boolean), text
//! around it makes text; when the value there is missing, null, an array or an
//! object, the operand matches nothing. There is no escape for a literal `${`;
//! use `matches`, which is never interpolated.
//!
//! `context.tenantId`, as a path or a placeholder, is always the request's
//! [`Request::tenant_id`], never a `tenantId` supplied inside [`Request::context`].
//!
//! `docs/language.md` in the repository is the language's full reference.
//!
//! # Limits
//!
//! [`compile_with_limits`] refuses with [`ErrorKind::TooLarge`] a policy beyond
//! any of its [`Limits`]: the source's bytes, the rules, the nesting of
//! conditions, the operators and the `${context...}` placeholders (both counted
//! after YAML aliases are expanded), and the memory the compiled policy needs,
//! [`Policy::approx_bytes`], in which each regular expression counts with the
//! search caches it may grow to (200 KiB or more). Everything is counted while
//! the document is read, so an alias bomb stops at the first limit it crosses.
//!
//! [`set_interrupt_check`] installs a hook that compiling and deciding call
//! regularly (per rule, condition and placeholder); a host may panic in it to
//! abandon the work, for instance to honour a statement timeout.

mod action;
mod approval;
mod compile;
mod condition;
mod decide;
mod dotted;
mod duration;
mod error;
mod glob;
mod heap;
mod import;
mod index;
mod interrupt;
mod limits;
mod lint;
mod number;
mod path;
mod policy;
mod rate;
mod regex;
mod request;
mod rule;
mod syntax;
mod template;
mod testing;
mod trace;
mod tree;
mod value;

#[doc(hidden)]
pub mod bench_support;

pub use action::Action;
pub use approval::{ApprovalTerms, MAX_APPROVERS, MAX_EXPIRY_SECONDS, parse_duration};
pub use compile::{
    CompiledDocument, compile, compile_document, compile_document_with_limits, compile_with_limits,
};
pub use decide::{Decision, FAIL_CLOSED_REASON, Layer, decide, decide_approved};
pub use error::{ErrorKind, PolicyError};
pub use import::{IMPORT_FORMATS, Imported, import_authensor};
pub use interrupt::{set_interrupt_check, set_match_guard};
pub use limits::Limits;
pub use lint::{Warning, WarningCode, lint};
pub use number::{MAX_EXPONENT, Number, NumberError};
pub use policy::{Policy, Verdict};
pub use rate::{RateCounter, RateQuery, RateScope, with_rate_counter};
pub use request::{MAX_TENANT_ID_BYTES, MAX_TOOL_BYTES, Request, is_valid_tenant_id};
pub use syntax::format;
pub use testing::{DEFAULT_TEST_TENANT, TestCase, TestOutcome, UnderTest, run_tests};
pub use trace::{Check, Explanation, FieldState, LayerTrace, RuleTrace, explain};
pub use value::{JsonError, Object, Value};
