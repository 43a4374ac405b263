//! Thai script → Latin letters, close to the Royal Thai General System (RTGS), for matching
//! only: a Thai-script name and its usual Latin spellings should fold to the same phonetic
//! skeleton (see `names.rs`), not produce a spelling anyone would print.
//!
//! What it does: initial and final consonant values of RTGS; leading vowels (เ แ โ ใ ไ) read
//! before their consonant; the vowel patterns of RTGS (เ-ีย, เ-ือ, ัว, เ-า, …); clusters
//! (กร, ปล, กว, …, and ศร/สร/ทร read `s`); silent ห before a sonorant and อ as a vowel carrier;
//! ์ (thanthakhat) silencing its consonant (and a second final before it, as in จันทร์);
//! implicit vowels in runs of consonants without a vowel sign (two → `CoC`, three → `Ca CoC`,
//! …); title prefixes (นาย, นาง, นางสาว, เด็กชาย, …, and dotted abbreviations such as น.ส. or
//! พ.ต.อ.) dropped at the start of a name. Tone marks are ignored.
//!
//! Deliberately not done (the Thai writing system does not say): whether a consonant after a
//! vowel closes the syllable or starts the next one with an implicit `a` (สุรเชษฐ์ comes out
//! `sunchet`, not `surachet`), Pali/Sanskrit silent letters without ์, and irregular words.
//! Such errors change the skeleton only when they turn a final into an initial of another class.

/// Thai consonants ก (U+0E01) … ฮ (U+0E2E), excluding the vowel letters ฤ and ฦ.
fn is_consonant(c: char) -> bool {
    ('\u{0E01}'..='\u{0E2E}').contains(&c) && c != 'ฤ' && c != 'ฦ'
}

/// Vowel signs written after (above, below, right of) their consonant.
fn is_following_vowel(c: char) -> bool {
    matches!(c, 'ะ' | 'ั' | 'า' | 'ำ' | 'ิ' | 'ี' | 'ึ' | 'ื' | 'ุ' | 'ู' | 'ๅ')
}

fn is_leading_vowel(c: char) -> bool {
    matches!(c, 'เ' | 'แ' | 'โ' | 'ใ' | 'ไ')
}

/// True for any character of the Thai block (U+0E00–U+0E7F).
pub(crate) fn is_thai(c: char) -> bool {
    ('\u{0E00}'..='\u{0E7F}').contains(&c)
}

/// RTGS value of a consonant at the start of a syllable.
fn initial(c: char) -> &'static str {
    match c {
        'ก' => "k",
        'ข' | 'ฃ' | 'ค' | 'ฅ' | 'ฆ' => "kh",
        'ง' => "ng",
        'จ' => "ch",
        'ฉ' | 'ช' | 'ฌ' => "ch",
        'ซ' | 'ศ' | 'ษ' | 'ส' => "s",
        'ญ' | 'ย' => "y",
        'ฎ' | 'ด' => "d",
        'ฏ' | 'ต' => "t",
        'ฐ' | 'ฑ' | 'ฒ' | 'ถ' | 'ท' | 'ธ' => "th",
        'ณ' | 'น' => "n",
        'บ' => "b",
        'ป' => "p",
        'ผ' | 'พ' | 'ภ' => "ph",
        'ฝ' | 'ฟ' => "f",
        'ม' => "m",
        'ร' => "r",
        'ล' | 'ฬ' => "l",
        'ว' => "w",
        'ห' | 'ฮ' => "h",
        _ => "", // อ: a silent vowel carrier
    }
}

/// RTGS value of a consonant closing a syllable.
fn final_of(c: char) -> &'static str {
    match c {
        'ก' | 'ข' | 'ฃ' | 'ค' | 'ฅ' | 'ฆ' => "k",
        'ง' => "ng",
        'บ' | 'ป' | 'พ' | 'ฟ' | 'ภ' | 'ผ' | 'ฝ' => "p",
        'ม' => "m",
        'ญ' | 'ณ' | 'น' | 'ร' | 'ล' | 'ฬ' => "n",
        'ย' => "i",
        'ว' => "o",
        'อ' => "",
        _ => "t", // จ ช ซ ฌ ฎ ฏ ฐ ฑ ฒ ด ต ถ ท ธ ศ ษ ส (and ห, rare)
    }
}

/// Title prefixes written before a Thai name, often without a space (นายสมชาย). Longest first.
const TITLES: [&str; 7] = ["นางสาว", "เด็กชาย", "เด็กหญิง", "ว่าที่", "คุณ", "นาย", "นาง"];

/// Transliterates one name written in Thai script (words separated by whitespace) into
/// lower-case Latin words separated by spaces. Non-Thai characters become spaces.
pub(crate) fn romanize(text: &str) -> String {
    let mut out = String::new();
    let mut first_word = true;
    for word in text.split(|c: char| !is_thai(c) && c != '.') {
        let mut w: &str = word;
        if first_word {
            w = strip_titles(w);
        }
        let latin = romanize_word(w);
        if !latin.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&latin);
            first_word = false;
        }
    }
    out
}

/// Drops title prefixes and dotted abbreviations (น.ส., พ.ต.อ., ด.ช.) at the start of the first
/// word, while Thai letters remain after them.
fn strip_titles(mut w: &str) -> &str {
    loop {
        let before = w;
        // Dotted abbreviation: one or more (letters then '.') groups.
        let mut rest = w;
        let mut cut = None;
        while let Some(dot) = rest.find('.') {
            let part = &rest[..dot];
            if part.is_empty() || part.chars().count() > 3 || !part.chars().all(is_thai) {
                break;
            }
            rest = &rest[dot + 1..];
            cut = Some(rest);
        }
        if let Some(r) = cut {
            if r.chars().any(is_consonant) {
                w = r;
            }
        }
        for t in TITLES {
            if let Some(r) = w.strip_prefix(t) {
                if r.chars().filter(|c| is_consonant(*c)).count() >= 2 {
                    w = r;
                    break;
                }
            }
        }
        if w == before {
            return w;
        }
    }
}

/// Prepares a word: keeps Thai letters and vowel signs, recomposes SARA AM (NFKC splits it
/// into ◌ํ + า), drops tone marks, maitaikhu and other signs, and removes what ์ silences.
fn prepare(word: &str) -> Vec<char> {
    let mut chars: Vec<char> = Vec::with_capacity(word.len());
    let raw: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        match c {
            '\u{0E4D}' if raw.get(i + 1) == Some(&'า') => {
                chars.push('ำ');
                i += 2;
                continue;
            }
            '\u{0E4C}' => {
                // Thanthakhat: silence the consonant it sits on (with a vowel sign between,
                // as in ดิ์); if it is ร, or the vowel is ั (which always takes a final), and
                // it follows a final consonant (จันทร์, ลักษณ์), the consonant before it is
                // silent too.
                while let Some(&p) = chars.last() {
                    if is_following_vowel(p) {
                        chars.pop();
                    } else {
                        break;
                    }
                }
                let silenced = chars.last().copied().filter(|p| is_consonant(*p));
                if silenced.is_some() {
                    chars.pop();
                }
                let n = chars.len();
                if silenced.is_some()
                    && n >= 3
                    && is_consonant(chars[n - 1])
                    && is_consonant(chars[n - 2])
                    && is_following_vowel(chars[n - 3])
                    && (silenced == Some('ร') || chars[n - 3] == 'ั')
                {
                    chars.pop();
                }
                // The syllable ends here (วงศ์|สวัสดิ์): nothing after it is its final.
                chars.push(BREAK);
            }
            c if is_consonant(c) || is_following_vowel(c) || is_leading_vowel(c) => chars.push(c),
            'ฤ' | 'ฦ' => chars.push(c),
            _ => {} // tone marks, ็, ๆ, ฯ, digits, dots
        }
        i += 1;
    }
    chars
}

/// Syllable break left where ์ silenced a consonant.
const BREAK: char = '|';

/// Irregular name words whose spelling the rules cannot read.
const IRREGULAR: [(&str, &str); 3] = [("พรหม", "phrom"), ("พรรณ", "phan"), ("ศรี", "si")];

fn romanize_word(word: &str) -> String {
    let mut word = word.to_owned();
    for (thai, latin) in IRREGULAR {
        // Latin letters cannot be read as Thai, so the replacement is a Thai-free marker
        // split out below.
        word = word.replace(thai, &format!("{BREAK}{latin}{BREAK}"));
    }
    word.split(BREAK)
        .map(|part| {
            if part.chars().any(is_thai) {
                romanize_syllables(part)
            } else {
                part.to_owned()
            }
        })
        .collect()
}

fn romanize_syllables(word: &str) -> String {
    let prepared = prepare(word);
    let mut out = String::new();
    for piece in prepared.split(|c| *c == BREAK) {
        out.push_str(&romanize_chars(piece));
    }
    out
}

fn romanize_chars(c: &[char]) -> String {
    let c = c.to_vec();
    let mut out = String::new();
    let mut i = 0;
    let mut pending_lead: Option<char> = None;
    let at = |k: usize| c.get(k).copied();
    let bare =
        |k: usize| at(k).is_some_and(is_consonant) && !at(k + 1).is_some_and(is_following_vowel);
    while i < c.len() {
        let ch = c[i];
        if ch == 'ฤ' {
            out.push_str("rue");
            i += 1;
            if bare(i) {
                out.push_str(final_of(c[i]));
                i += 1;
            }
            continue;
        }
        if ch == 'ฦ' {
            out.push_str("lue");
            i += 1;
            continue;
        }
        let lead = if is_leading_vowel(ch) {
            i += 1;
            Some(ch)
        } else {
            pending_lead.take()
        };
        let mut c_lead_again = false;
        let Some(init) = at(i).filter(|x| is_consonant(*x)) else {
            // A vowel sign without a consonant: read it on its own.
            if let Some(l) = lead {
                out.push_str(if l == 'แ' {
                    "ae"
                } else if l == 'โ' {
                    "o"
                } else if l == 'เ' {
                    "e"
                } else {
                    "ai"
                });
            } else if let Some(v) = at(i) {
                out.push_str(match v {
                    'ิ' | 'ี' => "i",
                    'ุ' | 'ู' => "u",
                    'ึ' | 'ื' => "ue",
                    'ำ' => "am",
                    _ => "a",
                });
                i += 1;
            }
            continue;
        };
        // Initial consonant, silent ห before a sonorant, clusters.
        let mut onset = String::new();
        let sonorant = |x: char| matches!(x, 'ง' | 'ญ' | 'น' | 'ม' | 'ย' | 'ร' | 'ล' | 'ว');
        let mut j = i + 1;
        if init == 'ห'
            && at(j).is_some_and(sonorant)
            && (lead.is_some()
                || !bare(j)
                || at(j + 1).is_some_and(is_following_vowel)
                || at(j + 2).is_some_and(is_following_vowel))
        {
            onset.push_str(initial(c[j]));
            j += 1;
        } else {
            let second = at(j);
            let vowel_after = (lead.is_some() && second != Some('ว') && at(j + 1).is_some())
                || at(j + 1).is_some_and(is_following_vowel);
            let s_cluster = matches!(init, 'ศ' | 'ส' | 'ท' | 'ซ') && second == Some('ร');
            let cluster = matches!(init, 'ก' | 'ข' | 'ค' | 'ต' | 'ป' | 'ผ' | 'พ' | 'บ')
                && matches!(second, Some('ร' | 'ล' | 'ว'));
            if s_cluster && vowel_after {
                onset.push('s');
                j += 1;
            } else if cluster && vowel_after {
                onset.push_str(initial(init));
                onset.push_str(initial(second.unwrap_or('อ')));
                j += 1;
            } else if lead == Some('เ')
                && second.is_some_and(is_consonant)
                && (matches!(at(j + 1), Some('ิ' | 'อ'))
                    || (at(j + 1) == Some('ี') && at(j + 2) == Some('ย'))
                    || (at(j + 1) == Some('ื') && at(j + 2) == Some('อ')))
            {
                // เฉลิม, เจริญ, เสถียร: the leading vowel belongs to the second consonant;
                // the first has an implicit a (cha-loem, cha-roen, sa-thian).
                out.push_str(initial(init));
                out.push('a');
                i = j - 1;
                c_lead_again = true;
            } else {
                onset.push_str(initial(init));
            }
        }
        if c_lead_again {
            // Re-read from the second consonant with the same leading vowel.
            i += 1;
            pending_lead = lead;
            continue;
        }
        out.push_str(&onset);
        // Vowel.
        let mut may_close = true;
        let vowel: &str = match lead {
            Some('แ') => {
                if at(j) == Some('ะ') {
                    j += 1;
                    may_close = false;
                }
                "ae"
            }
            Some('โ') => {
                if at(j) == Some('ะ') {
                    j += 1;
                    may_close = false;
                }
                "o"
            }
            Some('ใ') | Some('ไ') => {
                may_close = at(j) == Some('ย') && at(j + 1).is_none();
                if may_close {
                    j += 1; // ไทย: the ย is silent
                    may_close = false;
                }
                "ai"
            }
            Some(_) => match (at(j), at(j + 1)) {
                (Some('า'), Some('ะ')) => {
                    j += 2;
                    may_close = false;
                    "o"
                }
                (Some('า'), _) => {
                    j += 1;
                    may_close = false;
                    "ao"
                }
                (Some('ี'), Some('ย')) => {
                    j += 2;
                    "ia"
                }
                (Some('ื'), Some('อ')) => {
                    j += 2;
                    "uea"
                }
                (Some('ิ'), _) => {
                    j += 1;
                    "oe"
                }
                (Some('อ'), _) if !at(j + 1).is_some_and(is_following_vowel) => {
                    j += 1;
                    "oe"
                }
                (Some('ะ'), _) => {
                    j += 1;
                    may_close = false;
                    "e"
                }
                _ => "e",
            },
            None => match at(j) {
                Some('ะ') => {
                    j += 1;
                    may_close = false;
                    "a"
                }
                Some('ั') if at(j + 1) == Some('ว') => {
                    j += 2;
                    "ua"
                }
                Some('ั') if at(j + 1) == Some('ร') && at(j + 2).is_none() => {
                    j += 2; // Pali -ัร read -an
                    "an"
                }
                Some('ั') | Some('า') | Some('ๅ') => {
                    j += 1;
                    "a"
                }
                Some('ำ') => {
                    j += 1;
                    may_close = false;
                    "am"
                }
                Some('ิ') | Some('ี') => {
                    j += 1;
                    "i"
                }
                Some('ุ') | Some('ู') => {
                    j += 1;
                    "u"
                }
                Some('ึ') => {
                    j += 1;
                    "ue"
                }
                Some('ื') => {
                    j += 1;
                    if at(j) == Some('อ') {
                        j += 1;
                    }
                    "ue"
                }
                Some('ร') if at(j + 1) == Some('ร') => {
                    j += 2;
                    // รร: "an" when nothing closes it, otherwise "a" + the final.
                    if bare(j) {
                        "a"
                    } else {
                        may_close = false;
                        "an"
                    }
                }
                Some('อ') if !at(j + 1).is_some_and(is_following_vowel) && !onset.is_empty() => {
                    j += 1;
                    "o"
                }
                Some('ว')
                    if bare(j) && bare(j + 1) && !at(j + 2).is_some_and(is_following_vowel) =>
                {
                    j += 1;
                    "ua"
                }
                _ => {
                    // No vowel sign: implicit vowel. In a run of consonants without vowel
                    // signs, an even run closes this syllable ("o" and the next consonant as
                    // final: สม som), an odd one leaves it open ("a": กมล ka-mon).
                    let mut run = 1;
                    while bare(j + run - 1) {
                        run += 1;
                    }
                    if run % 2 == 0 {
                        "o"
                    } else {
                        may_close = false;
                        "a"
                    }
                }
            },
        };
        out.push_str(vowel);
        // Final consonant: a consonant that carries no vowel of its own.
        // ร before a leading vowel starts the next syllable (สุรเชษฐ์ su-ra-chet).
        let r_opens = at(j) == Some('ร') && at(j + 1).is_some_and(is_leading_vowel);
        // Two bare consonants ending the word: after ต ท ช ธ ถ a last ร is silent (เพชร,
        // มิตร: the first is the final); otherwise they form their own syllable (ศิริพร
        // si-ri-phon, ศิริวงศ์ si-ri-wong, รัตนากร rat-ta-na-kon).
        let own_syllable = bare(j)
            && bare(j + 1)
            && at(j + 2).is_none()
            && !(at(j + 1) == Some('ร') && matches!(at(j), Some('ต' | 'ท' | 'ช' | 'ธ' | 'ถ')));
        let r_opens = r_opens || own_syllable;
        if may_close && bare(j) && !r_opens && !(at(j + 1) == Some('ร') && at(j + 2) == Some('ร'))
        {
            out.push_str(final_of(c[j]));
            j += 1;
            // A trailing ร after a final at the end of a word is silent (เพชร, ชินวัตร).
            if at(j) == Some('ร') && at(j + 1).is_none() {
                j += 1;
            }
        }
        i = j;
    }
    out
}
