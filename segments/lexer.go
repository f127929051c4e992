package segments

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDuration
	tOp // == != < <= > >=
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tDot
	// keywords
	tAnd
	tOr
	tNot
	tIn
	tBetween
	tExists
	tWithin
	tTrue
	tFalse
	tNull
)

// keywords are matched case-insensitively; the canonical form is lower case.
var keywords = map[string]tokKind{
	"and": tAnd, "or": tOr, "not": tNot, "in": tIn, "between": tBetween,
	"exists": tExists, "within": tWithin, "true": tTrue, "false": tFalse, "null": tNull,
}

// Pos is a 1-based line and column (in characters) of the rule text.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

type token struct {
	kind tokKind
	text string  // the source text (for identifiers, keywords, operators)
	str  string  // the unquoted value of a string
	num  float64 // the value of a number
	pos  Pos
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of rule"
	case tString:
		return "string " + t.text
	case tNumber:
		return "number " + t.text
	case tDuration:
		return "duration " + t.text
	case tIdent:
		return "field " + t.text
	}
	return quote(t.text)
}

// lexer splits rule text into tokens, tracking line and column for errors.
type lexer struct {
	src       string
	off       int
	line, col int
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src, line: 1, col: 1}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
	}
}

func (l *lexer) peekByte(k int) byte {
	if l.off+k < len(l.src) {
		return l.src[l.off+k]
	}
	return 0
}

// advance moves over n bytes, counting lines and characters.
func (l *lexer) advance(n int) {
	end := l.off + n
	for l.off < end {
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		l.off += size
		if r == '\n' {
			l.line, l.col = l.line+1, 1
		} else {
			l.col++
		}
	}
}

func (l *lexer) errorf(pos Pos, msg string) error { return &Error{Pos: pos, Msg: msg} }

func (l *lexer) next() (token, error) {
	for l.off < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.off]) >= 0 {
		l.advance(1)
	}
	pos := Pos{l.line, l.col}
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: pos}, nil
	}
	c := l.src[l.off]
	switch {
	case isIdentStart(c):
		return l.ident(pos), nil
	case c >= '0' && c <= '9', c == '-' && isDigit(l.peekByte(1)):
		return l.number(pos)
	case c == '"':
		return l.string(pos)
	}
	if t, ok := l.punct(pos); ok {
		return t, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	msg := "unexpected character " + quote(string(r))
	switch r {
	case '&':
		msg += ` (use "and")`
	case '|':
		msg += ` (use "or")`
	case '!':
		msg += ` (use "not" or "!=")`
	case '=':
		msg += ` (use "==")`
	case '\'':
		msg += ` (strings use double quotes)`
	}
	return token{}, l.errorf(pos, msg)
}

var punctKinds = map[byte]tokKind{'<': tOp, '>': tOp, '(': tLParen, ')': tRParen, '[': tLBrack, ']': tRBrack, ',': tComma, '.': tDot}

func (l *lexer) punct(pos Pos) (token, bool) {
	two := l.src[l.off:min(l.off+2, len(l.src))]
	switch two {
	case "==", "!=", "<=", ">=":
		l.advance(2)
		return token{kind: tOp, text: two, pos: pos}, true
	}
	k, ok := punctKinds[l.src[l.off]]
	if !ok {
		return token{}, false
	}
	text := l.src[l.off : l.off+1]
	l.advance(1)
	return token{kind: k, text: text, pos: pos}, true
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

func (l *lexer) ident(pos Pos) token {
	end := l.off
	for end < len(l.src) && isIdentPart(l.src[end]) {
		end++
	}
	text := l.src[l.off:end]
	l.advance(end - l.off)
	if k, ok := keywords[strings.ToLower(text)]; ok {
		return token{kind: k, text: text, pos: pos}
	}
	return token{kind: tIdent, text: text, pos: pos}
}

// number scans a number (-1, 2.5, 1e+21) or a duration (30d): both start
// with a digit, and a duration is digits directly followed by a unit.
func (l *lexer) number(pos Pos) (token, error) {
	end := l.off + 1
	for end < len(l.src) {
		c := l.src[end]
		signAfterExp := (c == '+' || c == '-') && (l.src[end-1] == 'e' || l.src[end-1] == 'E')
		if !isIdentPart(c) && c != '.' && !signAfterExp {
			break
		}
		end++
	}
	text := l.src[l.off:end]
	l.advance(end - l.off)
	if isDurationShape(text) {
		return token{kind: tDuration, text: text, pos: pos}, nil
	}
	if strings.Trim(text, "-+.eE0123456789") != "" {
		return token{}, l.errorf(pos, "malformed number "+quote(text))
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return token{}, l.errorf(pos, "number "+text+" is out of range")
		}
		return token{}, l.errorf(pos, "malformed number "+quote(text))
	}
	return token{kind: tNumber, text: text, num: f, pos: pos}, nil
}

// isDurationShape reports digits followed by letters, as "30d" or "30x":
// the parser then says whether the unit is a valid one.
func isDurationShape(s string) bool {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || i == len(s) {
		return false
	}
	for _, c := range []byte(s[i:]) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// string scans a double-quoted string with Go/JSON escapes (\" \\ \n \u00e9).
func (l *lexer) string(pos Pos) (token, error) {
	end := l.off + 1
	for end < len(l.src) && l.src[end] != '"' {
		if l.src[end] == '\\' {
			end++
		}
		if end < len(l.src) && l.src[end] == '\n' {
			break
		}
		end++
	}
	if end >= len(l.src) || l.src[end] != '"' {
		return token{}, l.errorf(pos, "unterminated string: expected a closing \"")
	}
	text := l.src[l.off : end+1]
	s, err := strconv.Unquote(text)
	if err != nil {
		return token{}, l.errorf(pos, "malformed string "+text+": bad escape sequence")
	}
	l.advance(end + 1 - l.off)
	return token{kind: tString, text: text, str: s, pos: pos}, nil
}
