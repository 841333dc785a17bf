//! decide() with fixed compiled policies (the fixtures, the language
//! reference's examples and a generated one) and arbitrary args and context:
//! JSON text as given, or built from the input (deep, wide, long, odd
//! numbers and Unicode). Also checks that the JSON reader accepts whatever
//! serde_json accepts, and that a decision is the most restrictive opinion.
#![no_main]

use std::sync::OnceLock;

use authensor_fuzz::bytes::Bytes;
use authensor_fuzz::harness::{self, finding, live_bytes, measure, peak_above, reset_peak};
use authensor_fuzz::{json, seeds};
use authensor_policy::bench_support::generated_policy;
use authensor_policy::{Action, NumberError, Policy, Request, Value, compile, decide};
use libfuzzer_sys::fuzz_target;

/// What the fuzzer's own figures may hold, beside the policies.
const HARNESS_BYTES: usize = 64 * 1024;

struct Fixed {
    policies: Vec<Policy>,
    tools: Vec<String>,
    live_before: usize,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut sources = seeds::policies().to_vec();
        sources.push(generated_policy(300));
        let tools: Vec<String> = seeds::calls()
            .iter()
            .map(|(tool, _, _)| tool.clone())
            .collect();
        let live_before = live_bytes();
        let policies: Vec<Policy> = sources.iter().filter_map(|s| compile(s).ok()).collect();
        Fixed {
            policies,
            tools,
            live_before,
        }
    })
}

/// A request value: the input's JSON text as given (mode 0), or built.
fn request_value(bytes: &mut Bytes, mode: u8) -> (String, Option<Value>) {
    let text = if mode == 0 {
        String::from_utf8_lossy(bytes.take(4_096)).into_owned()
    } else {
        let mut text = String::new();
        json::object(bytes, 6, &mut text);
        text
    };
    let read = Value::from_json(&text);
    // A number beyond MAX_EXPONENT is refused by design (docs/language.md),
    // where serde_json rounds it to 0 or infinity.
    let out_of_range = NumberError::OutOfRange.to_string();
    if let Err(error) = &read
        && !error.message.ends_with(&out_of_range)
        && let Ok(serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(&text)
    {
        finding("Value::from_json refuses JSON serde_json reads", &text);
    }
    (text, read.ok())
}

/// The language examples' calls, encoded as `decide` below reads them: the
/// fixtures' platform policy, a tenant policy, the JSON text as given.
fn seed_inputs() -> Vec<Vec<u8>> {
    let policies = fixed().policies.len();
    let long = |text: &str| {
        let len = text.len().min(4_096) as u16;
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
        bytes
    };
    seeds::calls()
        .iter()
        .enumerate()
        .map(|(n, (tool, args, context))| {
            let tool = &tool.as_bytes()[..tool.len().min(64)];
            let mut input = vec![0, (n % policies) as u8, 0, 1, tool.len() as u8];
            input.extend_from_slice(tool);
            input.push(0);
            input.extend(long(args));
            input.extend(long(context));
            input
        })
        .collect()
}

/// Compiles the policies, and decides once with each.
fn warm_up() {
    let empty = Value::from_json("{}").expect("an object");
    for policy in &fixed().policies {
        let request = Request {
            tool: "t",
            args: &empty,
            context: &empty,
            tenant_id: "tenant-a",
        };
        decide(Some(policy), Some(policy), &request);
    }
}

fuzz_target!(init: harness::init("decide_values", seed_inputs, warm_up), |data: &[u8]| {
    harness::run("decide_values", data, |data| {
        let fixed = fixed();
        // The compiled policies' regexes grow their caches as they search,
        // up to what approx_bytes counts for them; the fuzzer's own figures
        // take a few KiB more.
        let held = live_bytes().saturating_sub(fixed.live_before);
        let approx: usize = fixed.policies.iter().map(Policy::approx_bytes).sum();
        measure("fixed policies' heap / approx_bytes", held as f64 / approx as f64);
        if held > approx + HARNESS_BYTES {
            finding("fixed policies' heap over approx_bytes", format_args!("{held} > {approx}"));
        }
        let mut bytes = Bytes::new(data);
        let layer = |bytes: &mut Bytes| {
            let n = bytes.below(fixed.policies.len() + 1);
            fixed.policies.get(n)
        };
        let (platform, tenant) = (layer(&mut bytes), layer(&mut bytes));
        let mode = bytes.byte() % 4;
        let tool = match bytes.byte() % 3 {
            0 => bytes.pick(&fixed.tools).clone(),
            1 => String::from_utf8_lossy(bytes.take(64)).into_owned(),
            _ => format!("tool.{}.run", bytes.u16() % 400),
        };
        let tenant_id = *bytes.pick(&["tenant-a", "tenant-b", "", "\u{e9}", "a.b"]);
        let (args_text, args) = request_value(&mut bytes, mode & 1);
        let (context_text, context) = request_value(&mut bytes, mode >> 1);
        let (Some(args), Some(context)) = (args, context) else { return };
        let request = Request { tool: &tool, args: &args, context: &context, tenant_id };

        let before = reset_peak();
        let decision = decide(platform, tenant, &request);
        let peak = peak_above(before);
        // A decision copies its reason and rule id, and may build strings
        // from the context for placeholders: a few times the request.
        let input = args_text.len() + context_text.len() + tool.len();
        let bound = 64 * 1024 + 8 * input;
        measure("decide peak bytes", peak as f64);
        if peak > bound {
            finding("decide's transient heap over its bound", format_args!("{peak} > {bound}"));
        }

        if decide(platform, tenant, &request) != decision {
            finding("decide is not deterministic", &tool);
        }
        let opinions = [platform, tenant].map(|p| p.and_then(|p| p.evaluate(&request)).map(|v| v.action));
        let expected = match opinions {
            [Some(Action::Block), _] => Action::Block,
            [Some(p), Some(t)] => p.max(t),
            [Some(p), None] => p,
            [None, Some(t)] => t,
            [None, None] => Action::Block,
        };
        if decision.action != expected {
            finding("decision is not the most restrictive opinion", &tool);
        }
    });
});
