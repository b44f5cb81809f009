//! `format` values as regexes over the decoded string content (all ASCII, so the JSON
//! encoding is the text itself: none of them admit `"`, `\` or control characters).
//!
//! Each is exact or a documented strict subset (never wider than the format):
//! * `date` / `date-time`: month lengths and leap years (Gregorian rule) are exact; leap
//!   second `60` is not accepted (stricter).
//! * `hostname` (and the domain of `email`): at most 8 labels of 1..=30 letters, digits or
//!   hyphens, no leading/trailing hyphen (a subset that keeps the total length ≤ 253).
//! * `time`: RFC 3339 full-time (offset required).
//! * `email`: dot-atom local part @ hostname (no quoted local parts, no IP literals).
//! * `uri`: RFC 3986 absolute URI without IP-literal hosts.

/// Most labels of a `hostname` (and of an `email` domain).
pub(crate) const HOST_LABELS: u32 = 8;
/// Most characters of one label.
pub(crate) const HOST_LABEL_LEN: u32 = 30;

fn hostname() -> String {
    // A strict subset that keeps the total length ≤ 253: up to 8 labels of ≤ 30 chars.
    let label = format!(
        "[A-Za-z0-9](?:[A-Za-z0-9-]{{0,{}}}[A-Za-z0-9])?",
        HOST_LABEL_LEN - 2
    );
    format!("{label}(?:\\.{label}){{0,{}}}", HOST_LABELS - 1)
}

pub(crate) fn format_regex(name: &str) -> Option<String> {
    let year = "[0-9]{4}";
    let md = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
    let leap = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)";
    let date = format!("(?:{year}-{md}|{leap}-02-29)");
    let time = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:[zZ]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
    let h16 = "[0-9a-fA-F]{1,4}";
    let oct = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let ipv4 = format!("{oct}(?:\\.{oct}){{3}}");
    let ls32 = format!("(?:{h16}:{h16}|{ipv4})");
    Some(match name {
        "date" => date,
        "time" => time.to_string(),
        "date-time" => format!("{date}[tT]{time}"),
        "duration" => {
            let dt = "(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)";
            let dd = "(?:[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)";
            format!("P(?:[0-9]+W|{dd}(?:T{dt})?|T{dt})")
        }
        "uuid" => "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
            .to_string(),
        "ipv4" => ipv4,
        "ipv6" => {
            let alts = [
                format!("(?:{h16}:){{6}}{ls32}"),
                format!("::(?:{h16}:){{5}}{ls32}"),
                format!("(?:{h16})?::(?:{h16}:){{4}}{ls32}"),
                format!("(?:(?:{h16}:){{0,1}}{h16})?::(?:{h16}:){{3}}{ls32}"),
                format!("(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}"),
                format!("(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}"),
                format!("(?:(?:{h16}:){{0,4}}{h16})?::{ls32}"),
                format!("(?:(?:{h16}:){{0,5}}{h16})?::{h16}"),
                format!("(?:(?:{h16}:){{0,6}}{h16})?::"),
            ];
            format!("(?:{})", alts.join("|"))
        }
        "hostname" => hostname(),
        "email" => {
            let atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
            format!("{atext}(?:\\.{atext})*@{}", hostname())
        }
        "uri" => {
            let pct = "%[0-9a-fA-F]{2}";
            let unres = "[A-Za-z0-9._~-]";
            let sub = "[!$&'()*+,;=]";
            let pchar = format!("(?:{unres}|{pct}|{sub}|[:@])");
            let seg = format!("{pchar}*");
            let seg_nz = format!("{pchar}+");
            let userinfo = format!("(?:{unres}|{pct}|{sub}|:)*");
            let host = format!("(?:{unres}|{pct}|{sub})*");
            let authority = format!("(?:{userinfo}@)?{host}(?::[0-9]*)?");
            let hier = format!(
                "(?://{authority}(?:/{seg})*|/(?:{seg_nz}(?:/{seg})*)?|{seg_nz}(?:/{seg})*|)"
            );
            let qf = format!("(?:{pchar}|[/?])*");
            format!("[A-Za-z][A-Za-z0-9+.-]*:{hier}(?:\\?{qf})?(?:#{qf})?")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(name: &str) -> regex_automata::meta::Regex {
        regex_automata::meta::Regex::new(&format!("^(?:{})$", format_regex(name).unwrap())).unwrap()
    }

    #[test]
    fn formats_basic() {
        let d = re("date");
        assert!(d.is_match("2024-02-29") && d.is_match("2000-02-29") && d.is_match("2023-12-31"));
        assert!(
            !d.is_match("2023-02-29") && !d.is_match("1900-02-29") && !d.is_match("2023-04-31")
        );
        let t = re("date-time");
        assert!(
            t.is_match("1963-06-19T08:30:06.283185Z") && t.is_match("1963-06-19t08:30:06+01:00")
        );
        assert!(!t.is_match("1963-06-19T08:30:06") && !t.is_match("1963-06-19T24:00:00Z"));
        let u = re("uuid");
        assert!(u.is_match("2EB8AA08-AA98-11EA-B4AA-73B441D16380"));
        assert!(!u.is_match("2eb8aa08-aa98-11ea-b4aa-73b441d1638"));
        let i = re("ipv4");
        assert!(i.is_match("192.168.0.1") && !i.is_match("256.1.1.1") && !i.is_match("01.1.1.1"));
        let i6 = re("ipv6");
        assert!(i6.is_match("::1") && i6.is_match("fe80::1:2") && i6.is_match("1:2:3:4:5:6:7:8"));
        assert!(
            !i6.is_match("1:2:3:4:5:6:7:8:9") && !i6.is_match("1::2::3") && !i6.is_match("12345::")
        );
        let e = re("email");
        assert!(
            e.is_match("joe.bloggs@example.com") && !e.is_match("2962") && !e.is_match("a..b@c.d")
        );
        let du = re("duration");
        assert!(
            du.is_match("P4DT12H30M5S")
                && du.is_match("P4W")
                && !du.is_match("PT")
                && !du.is_match("P1D2H")
        );
        let ur = re("uri");
        assert!(ur.is_match("http://example.com/a?b=c#d") && ur.is_match("urn:isbn:0451450523"));
        assert!(
            !ur.is_match("//example.com")
                && !ur.is_match("http://a b")
                && !ur.is_match("http://x:ab")
        );
    }
}
