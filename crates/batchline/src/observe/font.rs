//! A 3×5 pixel font (drawn at 2×) for the PNG: every printable ASCII character (0x20..=0x7E),
//! lowercase drawn as lowercase (as the SVG shows it), each with a bitmap of its own; any other
//! character is a full block.

const SCALE: u32 = 2;

/// Rows of a glyph, top first, 3 bits each (the high bit is the left column).
fn glyph(c: char) -> [u8; 5] {
    match c {
        ' ' => [0, 0, 0, 0, 0],
        '!' => [2, 2, 2, 0, 2],
        '"' => [5, 5, 0, 0, 0],
        '#' => [5, 7, 5, 7, 5],
        '$' => [3, 6, 2, 3, 6],
        '%' => [5, 1, 2, 4, 5],
        '&' => [2, 5, 2, 5, 3],
        '\'' => [2, 2, 0, 0, 0],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        '*' => [0, 5, 2, 5, 0],
        '+' => [0, 2, 7, 2, 0],
        ',' => [0, 0, 0, 2, 4],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        '/' => [1, 1, 2, 4, 4],
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        ':' => [0, 2, 0, 2, 0],
        ';' => [0, 2, 0, 2, 4],
        '<' => [1, 2, 4, 2, 1],
        '=' => [0, 7, 0, 7, 0],
        '>' => [4, 2, 1, 2, 4],
        '?' => [6, 1, 2, 0, 2],
        '@' => [2, 5, 7, 4, 3],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '[' => [3, 2, 2, 2, 3],
        '\\' => [4, 4, 2, 1, 1],
        ']' => [6, 2, 2, 2, 6],
        '^' => [2, 5, 0, 0, 0],
        '_' => [0, 0, 0, 0, 7],
        '`' => [4, 2, 0, 0, 0],
        'a' => [0, 3, 5, 5, 3],
        'b' => [4, 6, 5, 5, 6],
        'c' => [0, 3, 4, 4, 3],
        'd' => [1, 3, 5, 5, 3],
        'e' => [0, 2, 7, 4, 3],
        'f' => [1, 2, 7, 2, 2],
        'g' => [0, 3, 5, 3, 6],
        'h' => [4, 6, 5, 5, 5],
        'i' => [2, 0, 2, 2, 2],
        'j' => [1, 0, 1, 5, 2],
        'k' => [4, 5, 6, 6, 5],
        'l' => [6, 2, 2, 2, 7],
        'm' => [0, 6, 7, 7, 5],
        'n' => [0, 6, 5, 5, 5],
        'o' => [0, 2, 5, 5, 2],
        'p' => [0, 6, 5, 6, 4],
        'q' => [0, 3, 5, 3, 1],
        'r' => [0, 5, 6, 4, 4],
        's' => [0, 3, 6, 1, 6],
        't' => [2, 7, 2, 2, 1],
        'u' => [0, 5, 5, 5, 3],
        'v' => [0, 5, 5, 5, 2],
        'w' => [0, 5, 5, 7, 7],
        'x' => [0, 5, 2, 2, 5],
        'y' => [0, 5, 3, 1, 6],
        'z' => [0, 7, 2, 4, 7],
        '{' => [3, 2, 6, 2, 3],
        '|' => [2, 2, 2, 2, 2],
        '}' => [6, 2, 3, 2, 6],
        '~' => [0, 0, 3, 6, 0],
        // Anything else (not printable ASCII): a full block, unlike every glyph above.
        _ => MISSING,
    }
}

/// The glyph of a character outside printable ASCII.
const MISSING: [u8; 5] = [7; 5];

/// The width of `text` in pixels.
pub(super) fn width(text: &str) -> u32 {
    (text.chars().count() as u32 * 4).saturating_sub(1) * SCALE
}

/// Draws `text` with its top-left corner at (`x`, `y`).
pub(super) fn draw(img: &mut image::RgbImage, x: u32, y: u32, text: &str, c: [u8; 3]) {
    for (i, ch) in text.chars().enumerate() {
        let rows = glyph(ch);
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        let px = x + (i as u32 * 4 + col) * SCALE + dx;
                        let py = y + r as u32 * SCALE + dy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, image::Rgb(c));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels `text` lights, drawn alone.
    fn render(text: &str) -> Vec<bool> {
        let mut img = image::RgbImage::new(8, 12);
        draw(&mut img, 0, 0, text, [255; 3]);
        img.pixels().map(|p| p.0 == [255; 3]).collect()
    }

    #[test]
    fn every_printable_ascii_character_has_its_own_drawing() {
        let chars: Vec<char> = (0x20u8..=0x7e).map(char::from).collect();
        let missing = render("\u{e9}");
        assert_eq!(
            missing.iter().filter(|&&on| on).count(),
            15 * 4,
            "a full block"
        );
        let mut drawn: Vec<(char, Vec<bool>)> = Vec::new();
        for &c in &chars {
            let pixels = render(&c.to_string());
            // Each lit cell is a 2×2 square at its bitmap's place.
            let rows = glyph(c);
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3u32 {
                    let on = bits & (4 >> col) != 0;
                    let at = (2 * r as u32) as usize * 8 + (2 * col) as usize;
                    assert_eq!(pixels[at], on, "{c:?} row {r} column {col}");
                }
            }
            assert_eq!(pixels.iter().any(|&on| on), c != ' ', "{c:?}");
            assert_ne!(pixels, missing, "{c:?} is drawn as the missing glyph");
            if let Some((other, _)) = drawn.iter().find(|(_, p)| *p == pixels) {
                panic!("{c:?} is drawn like {other:?}");
            }
            drawn.push((c, pixels));
        }
        assert_eq!(drawn.len(), 95);
        // Lowercase is not drawn as uppercase, and the signs of defect 11 are not `0`.
        assert_ne!(render("a"), render("A"));
        for sign in ["<", "&", "+", ">"] {
            assert_ne!(render(sign), render("0"), "{sign}");
        }
    }
}
