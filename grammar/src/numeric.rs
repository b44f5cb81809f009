//! Exact regexes for JSON numbers compared against decimal bounds.
//!
//! Numbers are matched in plain decimal form `-?(0|[1-9][0-9]*)(\.[0-9]+)?` (no exponent)
//! when a bound is present; comparisons are done digit by digit so any bound (huge,
//! negative, fractional) is exact.

use crate::compile::h;
use regex_syntax::hir::Hir;

/// A decimal value: sign, integer digits (no leading zeros, "0" for zero), fraction digits
/// (no trailing zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    pub neg: bool,
    pub int: Vec<u8>,
    pub frac: Vec<u8>,
}

impl Decimal {
    /// Parses a JSON number text (may have an exponent).
    pub fn parse(s: &str) -> Option<Decimal> {
        let (neg, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (mant, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (ip, fp) = match mant.find('.') {
            Some(i) => (&mant[..i], &mant[i + 1..]),
            None => (mant, ""),
        };
        if ip.is_empty()
            || !ip.bytes().all(|b| b.is_ascii_digit())
            || !fp.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if exp.abs() > 10_000 {
            return None;
        }
        let mut digits: Vec<u8> = ip.bytes().chain(fp.bytes()).collect();
        let mut point = ip.len() as i64 + exp;
        if point < 0 {
            let mut z = vec![b'0'; (-point) as usize];
            z.extend(digits);
            digits = z;
            point = 0;
        }
        while (digits.len() as i64) < point {
            digits.push(b'0');
        }
        let (i, f) = digits.split_at(point as usize);
        let mut int: Vec<u8> = i.iter().copied().skip_while(|&d| d == b'0').collect();
        if int.is_empty() {
            int.push(b'0');
        }
        let mut frac = f.to_vec();
        while frac.last() == Some(&b'0') {
            frac.pop();
        }
        let zero = int == b"0" && frac.is_empty();
        Some(Decimal {
            neg: neg && !zero,
            int,
            frac,
        })
    }

    fn is_zero(&self) -> bool {
        self.int == b"0" && self.frac.is_empty()
    }

    /// Numeric comparison.
    pub fn cmp(&self, o: &Decimal) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self.neg, o.neg) {
            (false, true) => return Greater,
            (true, false) => return Less,
            _ => {}
        }
        let mag = self
            .int
            .len()
            .cmp(&o.int.len())
            .then_with(|| self.int.cmp(&o.int))
            .then_with(|| self.frac.cmp(&o.frac));
        if self.neg {
            mag.reverse()
        } else {
            mag
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

fn digit_range(lo: u8, hi: u8) -> Hir {
    h::bytes(&[(lo, hi)])
}
fn d() -> Hir {
    digit_range(b'0', b'9')
}
fn int_any() -> Hir {
    h::alt(vec![
        h::lit(b"0"),
        h::cat(vec![digit_range(b'1', b'9'), h::rep(d(), 0, None)]),
    ])
}
fn frac_any(frac: bool) -> Hir {
    if frac {
        h::rep(h::cat(vec![h::lit(b"."), h::rep(d(), 1, None)]), 0, Some(1))
    } else {
        h::empty()
    }
}
fn mag_any(frac: bool) -> Hir {
    h::cat(vec![int_any(), frac_any(frac)])
}
/// Fraction digits containing a nonzero digit.
fn nonzero_digits() -> Hir {
    h::cat(vec![
        h::rep(d(), 0, None),
        digit_range(b'1', b'9'),
        h::rep(d(), 0, None),
    ])
}

fn frac_cmp(f: &[u8], op: Op, frac: bool) -> Hir {
    let dot = || h::lit(b".");
    let strict = matches!(op, Op::Gt | Op::Lt);
    let mut alts = Vec::new();
    match op {
        Op::Ge | Op::Gt => {
            if f.is_empty() {
                if !strict {
                    return frac_any(frac);
                }
                if !frac {
                    return h::fail();
                }
                return h::cat(vec![dot(), nonzero_digits()]);
            }
            if !frac {
                return h::fail();
            }
            for p in 0..f.len() {
                if f[p] < b'9' {
                    alts.push(h::cat(vec![
                        dot(),
                        h::lit(&f[..p]),
                        digit_range(f[p] + 1, b'9'),
                        h::rep(d(), 0, None),
                    ]));
                }
            }
            alts.push(h::cat(vec![
                dot(),
                h::lit(f),
                if strict {
                    nonzero_digits()
                } else {
                    h::rep(d(), 0, None)
                },
            ]));
        }
        Op::Le | Op::Lt => {
            if f.is_empty() {
                if strict {
                    return h::fail();
                }
                return if frac {
                    h::rep(
                        h::cat(vec![dot(), h::rep(h::lit(b"0"), 1, None)]),
                        0,
                        Some(1),
                    )
                } else {
                    h::empty()
                };
            }
            alts.push(h::empty());
            if frac {
                for p in 0..f.len() {
                    if f[p] > b'0' {
                        alts.push(h::cat(vec![
                            dot(),
                            h::lit(&f[..p]),
                            digit_range(b'0', f[p] - 1),
                            h::rep(d(), 0, None),
                        ]));
                    }
                }
                for q in 1..f.len() {
                    alts.push(h::cat(vec![dot(), h::lit(&f[..q])]));
                }
                if !strict {
                    alts.push(h::cat(vec![
                        dot(),
                        h::lit(f),
                        h::rep(h::lit(b"0"), 0, None),
                    ]));
                }
            }
        }
    }
    h::alt(alts)
}

fn mag_cmp(v: &Decimal, op: Op, frac: bool) -> Hir {
    let i = &v.int;
    let n = i.len();
    let mut alts = Vec::new();
    match op {
        Op::Ge | Op::Gt => {
            alts.push(h::cat(vec![
                digit_range(b'1', b'9'),
                h::rep(d(), n as u32, None),
                frac_any(frac),
            ]));
            for p in 0..n {
                if i[p] < b'9' {
                    alts.push(h::cat(vec![
                        h::lit(&i[..p]),
                        digit_range(i[p] + 1, b'9'),
                        h::rep(d(), (n - p - 1) as u32, Some((n - p - 1) as u32)),
                        frac_any(frac),
                    ]));
                }
            }
        }
        Op::Le | Op::Lt => {
            if n >= 2 {
                alts.push(h::cat(vec![
                    h::alt(vec![
                        h::lit(b"0"),
                        h::cat(vec![
                            digit_range(b'1', b'9'),
                            h::rep(d(), 0, Some(n as u32 - 2)),
                        ]),
                    ]),
                    frac_any(frac),
                ]));
            }
            for p in 0..n {
                let lo = if p == 0 && n > 1 { b'1' } else { b'0' };
                if i[p] > lo {
                    alts.push(h::cat(vec![
                        h::lit(&i[..p]),
                        digit_range(lo, i[p] - 1),
                        h::rep(d(), (n - p - 1) as u32, Some((n - p - 1) as u32)),
                        frac_any(frac),
                    ]));
                }
            }
        }
    }
    alts.push(h::cat(vec![h::lit(i), frac_cmp(&v.frac, op, frac)]));
    h::alt(alts)
}

fn neg(m: Hir) -> Hir {
    h::cat(vec![h::lit(b"-"), m])
}

/// Numbers `n` (plain decimal form; integers only when `!frac`) with `n >= lo` (or `>`).
pub(crate) fn lower(lo: &Decimal, exclusive: bool, frac: bool) -> Hir {
    let mag = Decimal {
        neg: false,
        ..lo.clone()
    };
    if !lo.neg {
        if exclusive {
            mag_cmp(&mag, Op::Gt, frac)
        } else {
            let mut alts = vec![mag_cmp(&mag, Op::Ge, frac)];
            if lo.is_zero() {
                alts.push(neg(mag_cmp(&mag, Op::Le, frac)));
            }
            h::alt(alts)
        }
    } else {
        h::alt(vec![
            mag_any(frac),
            neg(mag_cmp(&mag, if exclusive { Op::Lt } else { Op::Le }, frac)),
        ])
    }
}

/// Numbers `n` with `n <= hi` (or `<`).
pub(crate) fn upper(hi: &Decimal, exclusive: bool, frac: bool) -> Hir {
    let mag = Decimal {
        neg: false,
        ..hi.clone()
    };
    if !hi.neg {
        let negs = if exclusive && hi.is_zero() {
            neg(mag_cmp(&mag, Op::Gt, frac))
        } else {
            neg(mag_any(frac))
        };
        h::alt(vec![
            mag_cmp(&mag, if exclusive { Op::Lt } else { Op::Le }, frac),
            negs,
        ])
    } else {
        neg(mag_cmp(&mag, if exclusive { Op::Gt } else { Op::Ge }, frac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dfa;

    fn check(re: Hir, f: impl Fn(f64) -> bool, samples: &[&str]) {
        let raw = dfa::from_hir(&re, 100_000, 1 << 26).unwrap();
        for s in samples {
            let v: f64 = s.parse().unwrap();
            assert_eq!(raw.run(s.as_bytes()), f(v), "sample {s}");
        }
    }

    const SAMPLES: &[&str] = &[
        "0", "-0", "1", "-1", "2", "9", "10", "11", "99", "100", "101", "1.5", "1.49", "1.51",
        "1.50", "-1.5", "-1.4", "-1.6", "0.1", "-0.1", "0.0", "-0.0", "12.25", "12.3", "12.2",
        "-12.25", "-12.26", "1000", "0.05",
    ];

    #[test]
    fn parse_decimal() {
        let d = Decimal::parse("1.5e2").unwrap();
        assert_eq!(
            (d.neg, &d.int[..], &d.frac[..]),
            (false, &b"150"[..], &b""[..])
        );
        let d = Decimal::parse("-0.00120").unwrap();
        assert_eq!(
            (d.neg, &d.int[..], &d.frac[..]),
            (true, &b"0"[..], &b"0012"[..])
        );
        let d = Decimal::parse("-0").unwrap();
        assert!(!d.neg);
        let d = Decimal::parse("1e-2").unwrap();
        assert_eq!((&d.int[..], &d.frac[..]), (&b"0"[..], &b"01"[..]));
    }

    #[test]
    fn bounds_exact() {
        for b in [
            "0", "1.5", "-1.5", "12.25", "-12.25", "100", "-1", "0.05", "10",
        ] {
            let dv = Decimal::parse(b).unwrap();
            let bv: f64 = b.parse().unwrap();
            check(lower(&dv, false, true), |v| v >= bv, SAMPLES);
            check(lower(&dv, true, true), |v| v > bv, SAMPLES);
            check(upper(&dv, false, true), |v| v <= bv, SAMPLES);
            check(upper(&dv, true, true), |v| v < bv, SAMPLES);
            let ints: Vec<&str> = SAMPLES
                .iter()
                .copied()
                .filter(|s| !s.contains('.'))
                .collect();
            check(lower(&dv, false, false), |v| v >= bv, &ints);
            check(upper(&dv, true, false), |v| v < bv, &ints);
        }
    }
}
