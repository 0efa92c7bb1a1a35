//! The visible part of a signature: a form XObject with a frame and lines of text
//! in standard Helvetica with WinAnsiEncoding.

/// The WinAnsiEncoding (CP-1252) byte of a character, if it has one.
pub fn win_ansi(c: char) -> Option<u8> {
    let u = c as u32;
    match u {
        0x20..=0x7E | 0xA0..=0xFF => Some(u as u8),
        _ => Some(match c {
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            '\u{202F}' => 0xA0, // narrow no-break space, common before « » : ; in French
            _ => return None,
        }),
    }
}

/// A PDF literal string of `s` in WinAnsiEncoding (unencodable characters become `?`).
pub fn win_ansi_literal(s: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for c in s.chars() {
        let b = win_ansi(c).unwrap_or(b'?');
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..=0x7E => out.push(b),
            _ => out.extend_from_slice(format!("\\{b:03o}").as_bytes()),
        }
    }
    out.push(b')');
    out
}

/// A number as PDF writes it: at most 3 decimals, no trailing zeros.
pub fn num(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Content stream of a `w` x `h` appearance: a thin frame and the lines, top-down.
pub fn content(w: f32, h: f32, lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        format!(
            "q 0.2 0.2 0.2 RG 0.8 w 0.4 0.4 {} {} re S Q\n",
            num(w - 0.8),
            num(h - 0.8)
        )
        .as_bytes(),
    );
    if lines.is_empty() {
        return out;
    }
    let n = lines.len() as f32;
    let size = ((h - 4.0) / (n * 1.25)).clamp(2.0, 10.0);
    let leading = size * 1.25;
    let top = h - 2.0 - size;
    out.extend_from_slice(
        format!(
            "BT 0 g /Helv {} Tf {} TL 3 {} Td\n",
            num(size),
            num(leading),
            num(top)
        )
        .as_bytes(),
    );
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"T* ");
        }
        out.extend_from_slice(&win_ansi_literal(line));
        out.extend_from_slice(b" Tj\n");
    }
    out.extend_from_slice(b"ET\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_accents_encode_in_win_ansi() {
        assert_eq!(win_ansi('é'), Some(0xE9));
        assert_eq!(win_ansi('è'), Some(0xE8));
        assert_eq!(win_ansi('à'), Some(0xE0));
        assert_eq!(win_ansi('ç'), Some(0xE7));
        assert_eq!(win_ansi('œ'), Some(0x9C));
        assert_eq!(win_ansi('€'), Some(0x80));
        assert_eq!(win_ansi('’'), Some(0x92));
        assert_eq!(win_ansi('Ω'), None);
        assert_eq!(
            win_ansi_literal("Lu et approuvé (ok)"),
            b"(Lu et approuv\\351 \\(ok\\))".to_vec()
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(200.0), "200");
        assert_eq!(num(-0.0001), "0");
    }
}
