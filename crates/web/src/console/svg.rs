//! The console's pictures as server-rendered SVG: no JavaScript and no chart library (four bar charts are a few
//! rectangles). Each picture is an image with a title and a description (`role="img"`, `aria-labelledby`), its
//! series told apart by patterns as well as colours (and a legend drawing the same patterns), its values written
//! next to the bars in dark text on white; the page puts the same figures in a table behind a `<details>`.

use std::fmt::Write as _;

/// Dark enough against white (at least 3:1, WCAG 1.4.11) to read as shapes, each with its own pattern.
const COLOURS: [&str; 5] = ["#1d4f91", "#a34700", "#2f6b2f", "#6b2c91", "#b00020"];
const INK: &str = "#1a1a1a";
const GRID: &str = "#767676";

const LABEL_WIDTH: u32 = 220;
const BAR_AREA: u32 = 420;
const VALUE_WIDTH: u32 = 140;
const ROW_HEIGHT: u32 = 26;
const BAR_HEIGHT: u32 = 18;
const LEGEND_HEIGHT: u32 = 28;

/// Escapes text for SVG (company names are typed by people).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Long names are cut so they fit the label column (the table behind the picture has them whole).
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The patterns of the series: plain, stripes, dots, cross-hatch, horizontal lines.
fn patterns(id: &str, series: usize) -> String {
    let mut defs = String::from("<defs>");
    for n in 0..series {
        let colour = COLOURS[n % COLOURS.len()];
        let overlay = match n % 5 {
            0 => String::new(),
            1 => "<path d=\"M0,8 L8,0\" stroke=\"#ffffff\" stroke-width=\"2\"/>".to_owned(),
            2 => "<circle cx=\"4\" cy=\"4\" r=\"1.6\" fill=\"#ffffff\"/>".to_owned(),
            3 => "<path d=\"M0,0 L8,8 M8,0 L0,8\" stroke=\"#ffffff\" stroke-width=\"1.2\"/>"
                .to_owned(),
            _ => "<path d=\"M0,4 L8,4\" stroke=\"#ffffff\" stroke-width=\"2\"/>".to_owned(),
        };
        let _ = write!(
            defs,
            "<pattern id=\"{id}-p{n}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">\
             <rect width=\"8\" height=\"8\" fill=\"{colour}\"/>{overlay}</pattern>"
        );
    }
    defs.push_str("</defs>");
    defs
}

fn open(id: &str, title: &str, description: &str, width: u32, height: u32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" class=\"chart__svg\" \
         font-family=\"system-ui, sans-serif\" font-size=\"12\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(description)
    )
}

fn legend(id: &str, series: &[String], y: u32) -> String {
    let mut out = String::new();
    let mut x = LABEL_WIDTH;
    for (n, name) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"url(#{id}-p{n})\" stroke=\"{INK}\" stroke-width=\"0.5\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{INK}\">{}</text>",
            y + 2,
            x + 18,
            y + 13,
            escape(name)
        );
        let chars = u32::try_from(name.chars().count()).unwrap_or(20);
        x += 30 + chars * 7;
    }
    out
}

/// One horizontal stacked bar per row (`label`, values per series), the total written after the bar by `total`.
pub fn stacked_bars(
    id: &str,
    title: &str,
    description: &str,
    series: &[String],
    rows: &[(String, Vec<i64>)],
    total: &dyn Fn(i64) -> String,
) -> String {
    let max = rows
        .iter()
        .map(|(_, values)| values.iter().map(|v| (*v).max(0)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let rows_count = u32::try_from(rows.len()).unwrap_or(u32::MAX / ROW_HEIGHT);
    let width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH;
    let height = LEGEND_HEIGHT + rows_count.max(1) * ROW_HEIGHT + 8;
    let mut svg = open(id, title, description, width, height);
    svg.push_str(&patterns(id, series.len()));
    svg.push_str(&legend(id, series, 0));
    for (index, (label, values)) in rows.iter().enumerate() {
        let y = LEGEND_HEIGHT + u32::try_from(index).unwrap_or(0) * ROW_HEIGHT;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{INK}\">{}</text>",
            LABEL_WIDTH - 8,
            y + 13,
            escape(&short(label, 30))
        );
        let mut x = f64::from(LABEL_WIDTH);
        for (n, value) in values.iter().enumerate() {
            let value = (*value).max(0);
            if value == 0 {
                continue;
            }
            let w = f64::from(BAR_AREA) * value as f64 / max as f64;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{BAR_HEIGHT}\" fill=\"url(#{id}-p{n})\" \
                 stroke=\"#ffffff\" stroke-width=\"0.5\"/>",
                y + 1
            );
            x += w;
        }
        let sum: i64 = values.iter().map(|v| (*v).max(0)).sum();
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" fill=\"{INK}\">{}</text>",
            x + 6.0,
            y + 13,
            escape(&total(sum))
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LABEL_WIDTH}\" y1=\"{LEGEND_HEIGHT}\" x2=\"{LABEL_WIDTH}\" y2=\"{}\" stroke=\"{GRID}\"/>",
        height - 8
    );
    svg.push_str("</svg>");
    svg
}

/// Vertical bars, one per period, each with its count above and its label below.
pub fn columns(id: &str, title: &str, description: &str, bars: &[(String, i64)]) -> String {
    const CHART_HEIGHT: u32 = 200;
    const COLUMN: u32 = 56;
    const TOP: u32 = 20;
    let max = bars
        .iter()
        .map(|(_, v)| (*v).max(0))
        .max()
        .unwrap_or(0)
        .max(1);
    let count = u32::try_from(bars.len()).unwrap_or(12);
    let width = 40 + count.max(1) * COLUMN;
    let height = TOP + CHART_HEIGHT + 40;
    let mut svg = open(id, title, description, width, height);
    svg.push_str(&patterns(id, 1));
    let base = TOP + CHART_HEIGHT;
    for (index, (label, value)) in bars.iter().enumerate() {
        let x = 30 + u32::try_from(index).unwrap_or(0) * COLUMN;
        let value = (*value).max(0);
        let h = f64::from(CHART_HEIGHT) * value as f64 / max as f64;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{:.1}\" width=\"{}\" height=\"{h:.1}\" fill=\"url(#{id}-p0)\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{INK}\">{value}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{INK}\">{}</text>",
            x + 6,
            f64::from(base) - h,
            COLUMN - 12,
            x + COLUMN / 2,
            f64::from(base) - h - 4.0,
            x + COLUMN / 2,
            base + 16,
            escape(label)
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"24\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"{GRID}\"/></svg>",
        width - 4
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_the_picture_is_labelled() {
        let svg = stacked_bars(
            "ages",
            "Open requests",
            "by age",
            &["0–2".to_owned(), "3–7".to_owned()],
            &[("<script>&Co".to_owned(), vec![2, 1])],
            &|n| n.to_string(),
        );
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"ages-title ages-desc\""));
        assert!(svg.contains("&lt;script&gt;&amp;Co"));
        assert!(!svg.contains("<script>"));
        assert!(
            svg.contains("url(#ages-p1)"),
            "series drawn with their pattern"
        );
    }

    #[test]
    fn empty_figures_still_draw_a_valid_picture() {
        let svg = columns("sent", "Sent", "per month", &[("01/26".to_owned(), 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
