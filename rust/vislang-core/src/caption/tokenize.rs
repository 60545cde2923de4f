//! The tokenisation of the COCO caption evaluation (`pycocoevalcap.tokenizer.PTBTokenizer`):
//! Stanford's PTB tokenizer with `-preserveLines -lowerCase`, then the removal of the
//! punctuation tokens of its `PUNCTUATIONS` list.
//!
//! The list is written in upper case (`-LRB-`, `-RRB-`, ...) while the tokens come out lower
//! case, so `-lrb-`/`-rrb-` (and the bracket tokens) survive: a quirk kept here on purpose, since
//! the published numbers include it. The PTB rules implemented: brackets become `-lrb-` ...
//! `-rcb-`; quotes, runs of dots and dashes, `, ; : ! ?` split off (kept inside numbers such as
//! `1,000`, `3:00`, `3.5`); clitics `n't 's 're 've 'll 'd 'm` split (`don't` -> `do n't`,
//! `can't` -> `ca n't`, `cannot` -> `can not`, `gonna` -> `gon na`); `$ % & + = * ~` are tokens;
//! a final period stays on abbreviations (`mr.`, `st.`, `e.g.`, single letters).

/// Tokens that `pycocoevalcap` drops after tokenising (its `PUNCTUATIONS`, lower-cased where the
/// lower-cased form can occur, i.e. everything but the bracket names).
const PUNCTUATIONS: [&str; 13] = [
    "''", "'", "``", "`", ".", "?", "!", ",", ":", "-", "--", "...", ";",
];

/// Abbreviations that keep their final period (a subset of the PTB lexer's list).
const ABBREVIATIONS: [&str; 40] = [
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "co", "inc", "ltd", "corp", "vs", "etc", "no",
    "prof", "gen", "gov", "sen", "rep", "lt", "col", "mt", "ft", "ave", "blvd", "rd", "jan", "feb",
    "mar", "apr", "aug", "sep", "sept", "oct", "nov", "dec", "bros", "messrs", "capt", "sgt",
];

/// Words the PTB lexer splits in two (`cannot` -> `can not`).
const SPLIT_WORDS: [(&str, &str, &str); 7] = [
    ("cannot", "can", "not"),
    ("gonna", "gon", "na"),
    ("wanna", "wan", "na"),
    ("gotta", "got", "ta"),
    ("gimme", "gim", "me"),
    ("lemme", "lem", "me"),
    ("'tis", "'t", "is"),
];

const CLITICS: [&str; 6] = ["'s", "'re", "'ve", "'ll", "'d", "'m"];

fn is_space(c: char) -> bool {
    // Python's str.split() also splits on the ASCII separators 0x1c..0x1f.
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '#' | '@' | '<' | '>' | '^' | '|' | '\\')
}

/// Splits one lower-cased, whitespace-free chunk into PTB tokens (punctuation included).
fn chunk_tokens(chunk: &str, out: &mut Vec<String>) {
    let cs: Vec<char> = chunk.chars().collect();
    let n = cs.len();
    let mut i = 0;
    let alnum = |j: usize| j < n && is_word_char(cs[j]);
    let digit = |j: usize| j < n && cs[j].is_ascii_digit();
    while i < n {
        let c = cs[i];
        match c {
            '(' => out.push("-lrb-".into()),
            ')' => out.push("-rrb-".into()),
            '[' => out.push("-lsb-".into()),
            ']' => out.push("-rsb-".into()),
            '{' => out.push("-lcb-".into()),
            '}' => out.push("-rcb-".into()),
            '"' => out.push("''".into()),
            '$' | '%' | '&' | '+' | '=' | '*' | '~' => out.push(c.to_string()),
            '\u{bd}' => out.push("1/2".into()),
            '.' | '-' | '!' | '?' | ';' | ',' | ':' | '/' => {
                let mut j = i;
                // `?!` is one token, like `!!`.
                let same = |d: char| d == c || (matches!(c, '!' | '?') && matches!(d, '!' | '?'));
                while j < n && same(cs[j]) {
                    j += 1;
                }
                let run: String = cs[i..j].iter().collect();
                match (c, j - i) {
                    ('.', 2) => {
                        out.push(".".into());
                        out.push(".".into());
                    }
                    ('.', k) if k > 3 => out.push("...".into()),
                    ('-', k) if k > 2 => out.push("--".into()),
                    _ => out.push(run),
                }
                i = j;
                continue;
            }
            '\'' | '`' => {
                // A word starting with an apostrophe: a clitic, 'em / '90s, or an opening quote.
                let mut j = i + 1;
                while alnum(j) {
                    j += 1;
                }
                let word: String = cs[i..j].iter().collect();
                if c == '\''
                    && j > i + 1
                    && (CLITICS.contains(&word.as_str()) || word == "'em" || digit(i + 1))
                {
                    out.push(word);
                    i = j;
                } else if c == '\'' && (word == "'tis" || word == "'twas") {
                    out.push("'t".into());
                    out.push(word[2..].to_string());
                    i = j;
                } else {
                    let mut k = i;
                    while k < n && cs[k] == c {
                        k += 1;
                    }
                    out.push(cs[i..k].iter().collect());
                    i = k;
                }
                continue;
            }
            _ if is_word_char(c) => {
                let mut j = i;
                // A word: word characters joined by single internal connectors.
                loop {
                    while alnum(j) {
                        j += 1;
                    }
                    if j + 1 < n && alnum(j + 1) {
                        let joins = match cs[j] {
                            '-' | '.' | '/' | '\'' => true,
                            ',' | ':' => digit(j - 1) && digit(j + 1),
                            _ => false,
                        };
                        if joins {
                            j += 1;
                            continue;
                        }
                    }
                    break;
                }
                let mut word: String = cs[i..j].iter().collect();
                // A final period stays on abbreviations, dotted words and single letters.
                if j < n && cs[j] == '.' && (j + 1 == n || cs[j + 1] != '.') {
                    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
                    if word.contains('.')
                        || ABBREVIATIONS.contains(&word.as_str())
                        || (letters == 1 && word.chars().count() == 1)
                    {
                        word.push('.');
                        j += 1;
                    }
                }
                push_word(&word, out);
                i = j;
                continue;
            }
            _ => out.push(c.to_string()),
        }
        i += 1;
    }
}

/// Splits clitics off a word (`don't` -> `do n't`, `john's` -> `john 's`).
fn push_word(word: &str, out: &mut Vec<String>) {
    for (w, a, b) in SPLIT_WORDS {
        if word == w {
            out.push(a.into());
            out.push(b.into());
            return;
        }
    }
    if let Some(stem) = word.strip_suffix("n't") {
        if !stem.is_empty() && !stem.contains('\'') {
            out.push(stem.into());
            out.push("n't".into());
            return;
        }
    }
    for clitic in CLITICS {
        if let Some(stem) = word.strip_suffix(clitic) {
            if !stem.is_empty() && !stem.contains('\'') {
                out.push(stem.into());
                out.push(clitic.into());
                return;
            }
        }
    }
    if let Some(pos) = word.find("'n'") {
        // rock'n'roll -> rock 'n' roll
        let (a, rest) = word.split_at(pos);
        out.push(a.into());
        out.push("'n'".into());
        push_word(&rest[3..], out);
        return;
    }
    if let Some((a, b)) = word.split_once('\'') {
        if a.chars().count() == 1 && !b.is_empty() && !b.contains('\'') && a != "o" {
            // y'all -> y' all
            out.push(format!("{a}'"));
            out.push(b.into());
            return;
        }
    }
    out.push(word.into());
}

/// PTB-tokenises one caption like `pycocoevalcap`'s `PTBTokenizer` (lower-case, punctuation
/// tokens removed). Returns the tokens.
pub fn ptb_tokenize(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut toks = Vec::new();
    for chunk in lower.split(is_space).filter(|s| !s.is_empty()) {
        chunk_tokens(chunk, &mut toks);
    }
    toks.retain(|t| !PUNCTUATIONS.contains(&t.as_str()));
    toks
}

#[cfg(test)]
mod tests {
    use super::ptb_tokenize;

    fn tok(s: &str) -> String {
        ptb_tokenize(s).join(" ")
    }

    #[test]
    fn matches_the_java_tokenizer_on_common_patterns() {
        // Expected strings: Stanford PTBTokenizer 3.4.1 output, PUNCTUATIONS removed.
        assert_eq!(
            tok("A man's dog (brown) runs \"fast\" -- across the street..."),
            "a man 's dog -lrb- brown -rrb- runs fast across the street"
        );
        assert_eq!(
            tok("Two kids don't can't won't they're we've I'll he'd I'm."),
            "two kids do n't ca n't wo n't they 're we 've i 'll he 'd i 'm"
        );
        assert_eq!(
            tok("A dog [big] {small} plays! Why? Yes: no, maybe; 'quoted' `back' end."),
            "a dog -lsb- big -rsb- -lcb- small -rcb- plays why yes no maybe quoted back end"
        );
        assert_eq!(
            tok("wow!! what?! hi,there 1,000 3:00 5% a&b 3.5 e.g. mr. smith"),
            "wow !! what ?! hi there 1,000 3:00 5 % a & b 3.5 e.g. mr. smith"
        );
        assert_eq!(
            tok("the dogs' bowl. I've seen 'em. the '90s. cannot gonna"),
            "the dogs bowl i 've seen 'em the '90s can not gon na"
        );
        assert_eq!(
            tok("two-year-old e-mail... ok.... a- -a rock'n'roll o'clock y'all"),
            "two-year-old e-mail ok a a rock 'n' roll o'clock y' all"
        );
        assert_eq!(tok(""), "");
        assert_eq!(tok(" . , "), "");
    }
}
