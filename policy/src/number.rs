//! Numbers as exact decimals, compared by value the way PostgreSQL compares
//! `numeric`: `10.50` equals `10.5`, `1e400` is a number like any other, and
//! no two different values ever compare equal.

use std::cmp::Ordering;
use std::fmt;

use crate::heap::{self, HeapSize};

/// An exact decimal number of any size.
///
/// Every value has one representation, so the derived equality and hash are
/// equality and hash by value: integers within `i64` are held as such, every
/// other value as its significant digits and an exponent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Every integer from `i64::MIN` to `i64::MAX`, and only those.
    Int(i64),
    /// Every other value: a fraction, or an integer beyond `i64`.
    Decimal(Box<Decimal>),
}

/// `±0.d₁d₂…dₙ × 10^exponent`, with `d₁` and `dₙ` not zero.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Decimal {
    negative: bool,
    /// The significant digits, as the bytes `b'0'..=b'9'`; never empty.
    digits: Box<[u8]>,
    exponent: i64,
}

/// The largest `exponent` of a number's normalized form `0.d₁d₂… × 10^exponent`,
/// and the negative of the smallest but one: a number's magnitude lies below
/// 10^1,000,000,000 and, unless it is zero, at or above 10^-1,000,000,000.
/// PostgreSQL's `numeric`, and so jsonb, stays far within.
pub const MAX_EXPONENT: i64 = 1_000_000_000;

/// Why text is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not written as a number.
    Syntax,
    /// Written as a number, but beyond [`MAX_EXPONENT`].
    OutOfRange,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Syntax => "not a number",
            NumberError::OutOfRange => {
                "number out of range: its magnitude must lie between 10^-1000000000 and 10^1000000000"
            }
        })
    }
}

impl std::error::Error for NumberError {}

/// A number's sign, digits and exponent, borrowed or on the stack.
#[derive(Clone, Copy)]
struct View<'a> {
    negative: bool,
    /// Empty for zero.
    digits: &'a [u8],
    exponent: i64,
}

/// Room for the digits of any `i64`.
type IntDigits = [u8; 20];

impl Number {
    /// The number `±0.d₁d₂…dₙ × 10^exponent`, from its decimal digits (the
    /// bytes `b'0'..=b'9'`, leading and trailing zeros allowed). Zero has no
    /// sign.
    pub fn from_digits(
        negative: bool,
        digits: &[u8],
        exponent: i64,
    ) -> Result<Number, NumberError> {
        debug_assert!(digits.iter().all(u8::is_ascii_digit));
        let leading = digits.iter().take_while(|&&digit| digit == b'0').count();
        let digits = &digits[leading..];
        let trailing = digits
            .iter()
            .rev()
            .take_while(|&&digit| digit == b'0')
            .count();
        let digits = &digits[..digits.len() - trailing];
        if digits.is_empty() {
            return Ok(Number(Repr::Int(0)));
        }
        let exponent = i64::try_from(leading)
            .ok()
            .and_then(|leading| exponent.checked_sub(leading))
            .filter(|exponent| (1 - MAX_EXPONENT..=MAX_EXPONENT).contains(exponent))
            .ok_or(NumberError::OutOfRange)?;
        if let Some(int) = as_i64(negative, digits, exponent) {
            return Ok(Number(Repr::Int(int)));
        }
        Ok(Number(Repr::Decimal(Box::new(Decimal {
            negative,
            digits: digits.into(),
            exponent,
        }))))
    }

    /// `±Σ digits[i] × 10000^(weight − i)`: a number as PostgreSQL's `numeric`
    /// stores it, in base 10000 (digits above 9999 count as 9999). A weight
    /// beyond ±200,000,000 (a numeric's is within ±2^15) reads as zero.
    pub fn from_base_10000(negative: bool, weight: i64, digits: &[u16]) -> Number {
        // Integers below 10000^5 (> 2^63), the common case, without digit text.
        let whole = i64::try_from(digits.len()).is_ok_and(|count| weight + 1 >= count);
        if whole && (0..=4).contains(&weight) {
            let magnitude = (0..=weight as usize).fold(0i128, |value, position| {
                let digit = digits.get(position).map_or(0, |digit| (*digit).min(9999));
                value * 10_000 + i128::from(digit)
            });
            return Number::from(if negative { -magnitude } else { magnitude });
        }
        let mut decimal = Vec::with_capacity(digits.len() * 4);
        for digit in digits {
            let digit = (*digit).min(9999);
            decimal.extend([1000, 100, 10, 1].map(|unit| b'0' + (digit / unit % 10) as u8));
        }
        // 0.DDDD… × 10^(4 × (weight + 1)).
        weight
            .checked_add(1)
            .and_then(|places| places.checked_mul(4))
            .and_then(|exponent| Number::from_digits(negative, &decimal, exponent).ok())
            .unwrap_or_else(|| Number::from(0i64))
    }

    /// Reads a number written in decimal: an optional sign, digits with at most
    /// one decimal point and at least one digit, and an optional exponent
    /// (`e` or `E`, an optional sign, digits): `-1.5`, `.5`, `5.`, `+1e-3`.
    /// This is the form YAML plain scalars and [`Number::parse_json`] share.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, bytes),
        };
        let mantissa_len = rest
            .iter()
            .position(|&byte| byte == b'e' || byte == b'E')
            .unwrap_or(rest.len());
        let (mantissa, exponent) = rest.split_at(mantissa_len);
        let (whole, fraction) = match mantissa.iter().position(|&byte| byte == b'.') {
            Some(point) => (&mantissa[..point], &mantissa[point + 1..]),
            None => (mantissa, &[][..]),
        };
        let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return Err(NumberError::Syntax);
        }
        let written_exponent = match exponent.split_first() {
            None => 0,
            Some((_, exponent)) => parse_exponent(exponent)?,
        };
        let mut digits = Vec::with_capacity(whole.len() + fraction.len());
        digits.extend_from_slice(whole);
        digits.extend_from_slice(fraction);
        // `whole.len()` is at most the length of the text; the exponent is
        // capped by parse_exponent, so neither sum can overflow.
        let exponent = written_exponent + whole.len() as i64;
        Number::from_digits(negative, &digits, exponent)
    }

    /// Reads a JSON number (RFC 8259): `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub fn parse_json(text: &str) -> Result<Number, NumberError> {
        let unsigned = text.strip_prefix('-').unwrap_or(text).as_bytes();
        let whole = unsigned
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let rest = &unsigned[whole..];
        let fraction_ok = match rest.first() {
            Some(b'.') => rest.get(1).is_some_and(u8::is_ascii_digit),
            _ => true,
        };
        let exponent_ok = match rest.iter().position(|&byte| byte == b'e' || byte == b'E') {
            Some(at) => {
                let digits = &rest[at + 1..];
                let digits = digits
                    .strip_prefix(b"+")
                    .or_else(|| digits.strip_prefix(b"-"))
                    .unwrap_or(digits);
                !digits.is_empty()
            }
            None => true,
        };
        let leading_zero = whole > 1 && unsigned[0] == b'0';
        if whole == 0 || leading_zero || !fraction_ok || !exponent_ok || text.starts_with('+') {
            return Err(NumberError::Syntax);
        }
        Number::parse(text)
    }

    /// The value as an `i64`, if it is an integer within its range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(int) => Some(int),
            Repr::Decimal(_) => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0 == Repr::Int(0)
    }

    fn view<'a>(&'a self, buffer: &'a mut IntDigits) -> View<'a> {
        match &self.0 {
            Repr::Int(int) => int_view(*int, buffer),
            Repr::Decimal(decimal) => View {
                negative: decimal.negative,
                digits: &decimal.digits,
                exponent: decimal.exponent,
            },
        }
    }

    /// The length in bytes of [`Number::to_text`], without building it.
    pub fn text_len(&self) -> usize {
        let mut buffer = IntDigits::default();
        let view = self.view(&mut buffer);
        let digits = view.digits.len() as i64;
        let exponent = view.exponent;
        let unsigned = if digits == 0 {
            1
        } else if exponent <= 0 {
            // "0." then -exponent zeros then the digits.
            2 - exponent + digits
        } else if exponent < digits {
            digits + 1
        } else {
            exponent
        };
        unsigned as usize + usize::from(view.negative)
    }

    /// The number in plain decimal notation, as PostgreSQL's `numeric`
    /// prints it after `trim_scale()`: no exponent, no trailing zeros after
    /// the point, no point without digits after it, no sign for zero:
    /// `1.50` is `1.5`, `1e3` is `1000`, `-0.0` is `0`, `1e-7` is `0.0000001`.
    pub fn to_text(&self) -> String {
        let mut buffer = IntDigits::default();
        let view = self.view(&mut buffer);
        let mut text = String::with_capacity(self.text_len());
        if view.negative {
            text.push('-');
        }
        let digits = std::str::from_utf8(view.digits).unwrap_or_default();
        let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or(0));
        if digits.is_empty() {
            text.push('0');
        } else if view.exponent <= 0 {
            text.push_str("0.");
            text.push_str(&zeros(-view.exponent));
            text.push_str(digits);
        } else if view.exponent < digits.len() as i64 {
            let (whole, fraction) = digits.split_at(view.exponent as usize);
            text.push_str(whole);
            text.push('.');
            text.push_str(fraction);
        } else {
            text.push_str(digits);
            text.push_str(&zeros(view.exponent - digits.len() as i64));
        }
        text
    }
}

/// The exponent after `e`, with its optional sign: a value far beyond
/// [`MAX_EXPONENT`] stops counting there, which keeps later sums in range.
fn parse_exponent(text: &[u8]) -> Result<i64, NumberError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        Some((b'+', digits)) => (false, digits),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(NumberError::Syntax);
    }
    let cap = 4 * MAX_EXPONENT;
    let magnitude = digits.iter().fold(0i64, |value, digit| {
        (value * 10 + i64::from(digit - b'0')).min(cap)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// The value of normalized digits as an `i64`, if it is an integer within range.
fn as_i64(negative: bool, digits: &[u8], exponent: i64) -> Option<i64> {
    if exponent < digits.len() as i64 || exponent > 19 {
        return None;
    }
    let mut magnitude: u64 = 0;
    for position in 0..exponent as usize {
        let digit = digits.get(position).map_or(0, |digit| digit - b'0');
        magnitude = magnitude.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn int_view(int: i64, buffer: &mut IntDigits) -> View<'_> {
    let mut magnitude = int.unsigned_abs();
    let mut start = buffer.len();
    while magnitude > 0 {
        start -= 1;
        buffer[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
    }
    let written = &buffer[start..];
    let significant = written.len() - written.iter().rev().take_while(|&&d| d == b'0').count();
    View {
        negative: int < 0,
        digits: &written[..significant],
        exponent: written.len() as i64,
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Repr::Int(left), Repr::Int(right)) = (&self.0, &other.0) {
            return left.cmp(right);
        }
        let (mut left_buffer, mut right_buffer) = (IntDigits::default(), IntDigits::default());
        let (left, right) = (self.view(&mut left_buffer), other.view(&mut right_buffer));
        let sign = |view: &View| match (view.digits.is_empty(), view.negative) {
            (true, _) => 0,
            (false, false) => 1,
            (false, true) => -1,
        };
        match sign(&left).cmp(&sign(&right)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        // Same sign: compare magnitudes, by exponent, then digit by digit (a
        // prefix is smaller, as the longer one goes on with non-zero digits).
        let magnitude = left
            .exponent
            .cmp(&right.exponent)
            .then_with(|| left.digits.cmp(right.digits));
        if left.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<i64> for Number {
    fn from(int: i64) -> Self {
        Number(Repr::Int(int))
    }
}

impl From<u64> for Number {
    fn from(int: u64) -> Self {
        Number::from(u128::from(int))
    }
}

impl From<u128> for Number {
    fn from(int: u128) -> Self {
        match i64::try_from(int) {
            Ok(int) => Number(Repr::Int(int)),
            Err(_) => {
                let digits = int.to_string();
                Number::from_digits(false, digits.as_bytes(), digits.len() as i64)
                    .unwrap_or_else(|_| unreachable!("a u128 has at most 39 digits"))
            }
        }
    }
}

impl From<i128> for Number {
    fn from(int: i128) -> Self {
        match i64::try_from(int) {
            Ok(int) => Number(Repr::Int(int)),
            Err(_) => {
                let digits = int.unsigned_abs().to_string();
                Number::from_digits(int < 0, digits.as_bytes(), digits.len() as i64)
                    .unwrap_or_else(|_| unreachable!("an i128 has at most 39 digits"))
            }
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Int(int) => write!(f, "{int}"),
            Repr::Decimal(_) => f.write_str(&self.to_text()),
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(int) => write!(f, "{int}"),
            Repr::Decimal(decimal) => write!(
                f,
                "{}0.{}e{}",
                if decimal.negative { "-" } else { "" },
                String::from_utf8_lossy(&decimal.digits),
                decimal.exponent
            ),
        }
    }
}

impl HeapSize for Number {
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Int(_) => 0,
            Repr::Decimal(decimal) => {
                heap::allocation(size_of::<Decimal>()) + heap::allocation(decimal.digits.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Number {
        Number::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn equal_values_have_one_representation() {
        for (left, right) in [
            ("10.50", "10.5"),
            ("1", "1.0"),
            ("1e2", "100"),
            ("-0", "0"),
            ("-0.0e7", "0"),
            ("0.001e3", "1"),
            ("9223372036854775807", "9223372036854775807.000"),
            ("1e400", "10e399"),
            ("123.45e-2", "1.2345"),
        ] {
            assert_eq!(number(left), number(right), "{left} = {right}");
            assert_eq!(number(left).cmp(&number(right)), Ordering::Equal);
        }
        assert_eq!(number("12").as_i64(), Some(12));
        assert_eq!(number("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(number("9223372036854775808").as_i64(), None);
        assert_eq!(number("1.5").as_i64(), None);
    }

    #[test]
    fn different_values_never_compare_equal() {
        for (smaller, larger) in [
            ("9007199254740992", "9007199254740993"),
            ("0.1", "0.1000000000000000000001"),
            ("0", "1e-400"),
            ("-1e-400", "0"),
            ("-1e400", "-1e399"),
            ("1e399", "1e400"),
            ("-1", "-0.5"),
            ("9223372036854775807", "9223372036854775808"),
            ("-9223372036854775809", "-9223372036854775808"),
            ("0.12", "0.123"),
            ("99", "100"),
            ("-100", "-99"),
            ("1.9999999999999999999", "2"),
        ] {
            let (small, large) = (number(smaller), number(larger));
            assert!(small < large, "{smaller} < {larger}");
            assert!(large > small, "{larger} > {smaller}");
            assert_ne!(small, large);
        }
    }

    #[test]
    fn reads_every_decimal_form_and_nothing_else() {
        for (text, plain) in [
            (".5", "0.5"),
            ("5.", "5"),
            ("+1e-3", "0.001"),
            ("1E3", "1000"),
            ("00012.3400", "12.34"),
            ("-0.000", "0"),
        ] {
            assert_eq!(number(text).to_text(), plain, "{text}");
        }
        for bad in [
            "", ".", "-", "+", "e5", "1e", "1e+", "1.2.3", "1_000", "0x10", " 1", "1 ", "--1",
            "inf", "NaN", "1e5.5", "١",
        ] {
            assert_eq!(Number::parse(bad), Err(NumberError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn json_numbers_follow_rfc_8259() {
        for good in ["0", "-0", "1.5", "-1.5e-10", "1E+2", "123", "1e400", "0.0"] {
            assert!(Number::parse_json(good).is_ok(), "{good}");
        }
        for bad in [
            "+1", "01", ".5", "5.", "1.e3", "-", "1e", "0x1", "--1", "-01",
        ] {
            assert_eq!(Number::parse_json(bad), Err(NumberError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn magnitude_is_bounded_far_beyond_postgresql() {
        assert!(Number::parse("1e999999999").is_ok());
        assert!(Number::parse("9.9e999999999").is_ok());
        assert!(Number::parse("1e-1000000000").is_ok());
        assert!(Number::parse("0e99999999999999999999").unwrap().is_zero());
        for out in ["1e1000000000", "1e-1000000001", "1e99999999999999999999999"] {
            assert_eq!(Number::parse(out), Err(NumberError::OutOfRange), "{out}");
        }
    }

    #[test]
    fn text_is_plain_decimal_and_its_length_is_known_beforehand() {
        for (text, plain) in [
            ("0", "0"),
            ("-7", "-7"),
            ("1.50", "1.5"),
            ("1e-7", "0.0000001"),
            ("-0.05", "-0.05"),
            ("123.456", "123.456"),
            ("1.2e3", "1200"),
            ("1e20", "100000000000000000000"),
            ("-9223372036854775808", "-9223372036854775808"),
        ] {
            let number = number(text);
            assert_eq!(number.to_text(), plain, "{text}");
            assert_eq!(number.text_len(), plain.len(), "{text}");
            assert_eq!(number.to_string(), plain, "{text}");
        }
        let huge = number("1e400");
        assert_eq!(huge.text_len(), 401);
        assert_eq!(huge.to_text(), format!("1{}", "0".repeat(400)));
        assert_eq!(number("-1e-400").text_len(), 403);
    }

    #[test]
    fn base_10000_digits_read_exactly() {
        for (negative, weight, digits, text) in [
            (false, 0, &[][..], "0"),
            (false, 0, &[7][..], "7"),
            (true, 1, &[12, 3400][..], "-123400"),
            (false, 2, &[1][..], "100000000"),
            (false, 0, &[10, 5000][..], "10.5"),
            (false, -1, &[1][..], "0.0001"),
            (true, -2, &[5][..], "-0.00000005"),
            (
                false,
                4,
                &[9223, 3720, 3685, 4775, 8070][..],
                "92233720368547758070",
            ),
            (
                false,
                4,
                &[922, 3372, 368, 5477, 5807][..],
                "9223372036854775807",
            ),
            (false, 100, &[1][..], &format!("1{}", "0".repeat(400))),
            (false, -101, &[1000][..], &format!("0.{}1", "0".repeat(400))),
        ] {
            let number = Number::from_base_10000(negative, weight, digits);
            assert_eq!(number.to_text(), text, "{weight} {digits:?}");
        }
        let max = Number::from_base_10000(false, 4, &[922, 3372, 368, 5477, 5807]);
        assert_eq!(max.as_i64(), Some(i64::MAX));
        let min = Number::from_base_10000(true, 4, &[922, 3372, 368, 5477, 5808]);
        assert_eq!(min.as_i64(), Some(i64::MIN));
        assert_eq!(
            Number::from_base_10000(false, 32767, &[9999]),
            number("9999e131068")
        );
    }

    #[test]
    fn conversions_from_integers_are_exact() {
        assert_eq!(Number::from(u64::MAX), number("18446744073709551615"));
        // Past i64, with 19 digits rather than 20.
        assert_eq!(
            Number::from(9_223_372_036_854_775_808u64),
            number("9223372036854775808")
        );
        assert_eq!(Number::from(7u64), Number::from(7i64));
        assert_eq!(Number::from(i128::MIN), number(&i128::MIN.to_string()));
        assert_eq!(Number::from(-5i128).as_i64(), Some(-5));
    }
}
