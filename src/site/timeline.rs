//! The lifecycle timeline of a core build as inline SVG: one row per version along a date
//! axis, released (a dot) → deprecated (the line turns dashed) → revoked (a cross) or end
//! of support (a bar), with a line for the date the site is rendered as of (day numbers
//! from [`super::dates::day`]). It has a
//! `<title>` and `<desc>`, and every row a `<title>` in words, so it is not colour alone.

use super::html::esc;
use std::fmt::Write as _;

/// One version on the timeline (day numbers).
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub released: i64,
    pub deprecated: Option<i64>,
    pub revoked: Option<i64>,
    pub end_of_support: Option<i64>,
}

const WIDTH: i64 = 800;
const LEFT: i64 = 120;
const RIGHT: i64 = 24;
const TOP: i64 = 34;
const ROW: i64 = 24;

fn date(day: i64) -> String {
    u64::try_from(day)
        .map(|d| crate::build::epoch::date(d * 86_400))
        .unwrap_or_else(|_| "before 1970".to_string())
}

impl Row {
    /// The row in words (its tooltip and part of the description).
    fn words(&self) -> String {
        let mut s = format!("{}: released {}", self.label, date(self.released));
        if let Some(d) = self.deprecated {
            let _ = write!(s, ", deprecated {}", date(d));
        }
        if let Some(d) = self.revoked {
            let _ = write!(s, ", revoked {}", date(d));
        }
        match self.end_of_support {
            Some(d) => {
                let _ = write!(s, ", end of support {}", date(d));
            }
            None => s.push_str(", no end of support set"),
        }
        s
    }

    fn last_day(&self) -> i64 {
        [self.deprecated, self.revoked, self.end_of_support]
            .into_iter()
            .flatten()
            .fold(self.released, i64::max)
    }
}

/// The SVG of `rows` (oldest version first) as of `today`, titled `title`.
pub fn render(title: &str, rows: &[Row], today: i64, id: &str) -> String {
    let lo = rows
        .iter()
        .map(|r| r.released)
        .min()
        .unwrap_or(today)
        .min(today);
    let hi = rows
        .iter()
        .map(Row::last_day)
        .max()
        .unwrap_or(today)
        .max(today);
    let (lo, hi) = (lo - 7, hi + 7);
    let span = (hi - lo).max(1);
    let x = |d: i64| LEFT + (d - lo) * (WIDTH - LEFT - RIGHT) / span;
    let height = TOP + ROW * rows.len() as i64 + 12;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <title id=\"{id}-t\">{}</title>\n<desc id=\"{id}-d\">{}</desc>\n",
        esc(title),
        esc(&rows.iter().map(Row::words).collect::<Vec<_>>().join("; "))
    );
    let _ = writeln!(
        s,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"14\">{}</text>\
         <text class=\"axis\" x=\"{}\" y=\"14\" text-anchor=\"end\">{}</text>",
        date(lo),
        WIDTH - RIGHT,
        date(hi)
    );
    let tx = x(today);
    let _ = writeln!(
        s,
        "<line class=\"today\" x1=\"{tx}\" y1=\"20\" x2=\"{tx}\" y2=\"{}\"/>\
         <text class=\"axis\" x=\"{tx}\" y=\"30\" text-anchor=\"middle\">as of {}</text>",
        height - 4,
        date(today)
    );
    for (i, r) in rows.iter().enumerate() {
        row(&mut s, r, TOP + ROW * i as i64 + ROW / 2, &x, hi);
    }
    s.push_str("</svg>\n");
    s
}

fn row(s: &mut String, r: &Row, y: i64, x: &dyn Fn(i64) -> i64, hi: i64) {
    let end = r.revoked.or(r.end_of_support).unwrap_or(hi);
    let _ = write!(
        s,
        "<g><title>{}</title><text class=\"label\" x=\"4\" y=\"{}\">{}</text>",
        esc(&r.words()),
        y + 4,
        esc(&r.label)
    );
    let live_end = r.deprecated.map_or(end, |d| d.min(end));
    let _ = write!(
        s,
        "<line class=\"live\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
        x(r.released),
        x(live_end)
    );
    if let Some(d) = r.deprecated.filter(|d| *d < end) {
        let _ = write!(
            s,
            "<line class=\"dep\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            x(d),
            x(end)
        );
    }
    let _ = write!(
        s,
        "<circle class=\"rel\" cx=\"{}\" cy=\"{y}\" r=\"4\"/>",
        x(r.released)
    );
    if let Some(d) = r.revoked {
        let c = x(d);
        let _ = write!(
            s,
            "<path class=\"rev\" d=\"M{} {} L{} {} M{} {} L{} {}\"/>",
            c - 5,
            y - 5,
            c + 5,
            y + 5,
            c - 5,
            y + 5,
            c + 5,
            y - 5
        );
    } else if let Some(d) = r.end_of_support {
        let c = x(d);
        let _ = write!(
            s,
            "<line class=\"eos\" x1=\"{c}\" y1=\"{}\" x2=\"{c}\" y2=\"{}\"/>",
            y - 7,
            y + 7
        );
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i64 {
        super::super::dates::day(s).unwrap()
    }

    #[test]
    fn rows_are_drawn_and_described() {
        let rows = vec![
            Row {
                label: "1.0.0".into(),
                released: d("2025-01-01"),
                deprecated: Some(d("2025-03-01")),
                revoked: Some(d("2025-04-01")),
                end_of_support: Some(d("2026-01-01")),
            },
            Row {
                label: "<1.1.0>".into(),
                released: d("2025-02-01"),
                deprecated: None,
                revoked: None,
                end_of_support: Some(d("2026-06-30")),
            },
        ];
        let svg = render("Lifecycle of core", &rows, d("2025-06-01"), "tl");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<title id=\"tl-t\">Lifecycle of core</title>"));
        assert!(
            svg.contains("1.0.0: released 2025-01-01, deprecated 2025-03-01, revoked 2025-04-01")
        );
        assert!(svg.contains("&lt;1.1.0&gt;") && !svg.contains("<1.1.0>"));
        assert_eq!(svg.matches("class=\"rev\"").count(), 1);
        assert_eq!(svg.matches("class=\"dep\"").count(), 1);
        assert_eq!(
            svg.matches("class=\"eos\"").count(),
            1,
            "a revoked row has no end bar"
        );
        assert!(svg.contains("as of 2025-06-01"));
        // Well-formed XML: every element closes.
        let mut r = quick_xml::Reader::from_str(&svg);
        loop {
            match r.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}: {svg}"),
            }
        }
        // Same input, same bytes.
        assert_eq!(
            svg,
            render("Lifecycle of core", &rows, d("2025-06-01"), "tl")
        );
    }

    #[test]
    fn empty_and_single_day_timelines_do_not_divide_by_zero() {
        let svg = render("x", &[], 100, "e");
        assert!(svg.contains("</svg>"));
        let one = [Row {
            label: "1".into(),
            released: 100,
            deprecated: None,
            revoked: None,
            end_of_support: None,
        }];
        assert!(render("x", &one, 100, "e").contains("class=\"live\""));
    }
}
