package segments

import (
	"strconv"
	"strings"
)

// Error is a rule that does not compile. Text rules locate it by line and
// column, JSON rules by the path of the offending member.
type Error struct {
	Pos  Pos    // set for text rules
	Path string // set for JSON rules, as $.all[1].value
	Msg  string
}

func (e *Error) Error() string {
	if e.Path != "" {
		return e.Path + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Compile parses a rule written in the segment language (see the package
// documentation) and checks it against schema. The error, an *Error, names
// the line:column, what was found there and what was expected.
func Compile(src string, schema Schema) (*Rule, error) {
	if len(src) > MaxSourceLen {
		return nil, &Error{Pos: Pos{1, 1}, Msg: "rule too long: " + strconv.Itoa(len(src)) + " bytes (at most " + strconv.Itoa(MaxSourceLen) + ")"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, schema: schema}
	if p.peek().kind == tEOF {
		return nil, p.fail(p.peek().pos, "empty rule: expected a condition such as ltv > 100")
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpectedAfterRule(t)
	}
	return newRule(root, schema), nil
}

type parser struct {
	toks   []token
	i      int
	schema Schema
	depth  int
	nodes  int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(pos Pos, msg string) error { return &Error{Pos: pos, Msg: msg} }

func (p *parser) expected(what string, found token) error {
	return p.fail(found.pos, "expected "+what+", found "+found.describe())
}

// unexpectedAfterRule explains a token left over after a complete rule.
func (p *parser) unexpectedAfterRule(t token) error {
	if t.kind == tRParen {
		return p.fail(t.pos, `unbalanced ")": no "(" to close`)
	}
	return p.expected(`"and", "or" or end of rule`, t)
}

// count charges one node against MaxNodes.
func (p *parser) count(pos Pos, n int) error {
	p.nodes += n
	if p.nodes > MaxNodes {
		return p.fail(pos, "rule too large: more than "+strconv.Itoa(MaxNodes)+" conditions and values")
	}
	return nil
}

// enter charges one level of nesting against MaxDepth; leave gives it back.
func (p *parser) enter(pos Pos) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.fail(pos, "rule nested too deeply: more than "+strconv.Itoa(MaxDepth)+" levels of parentheses and not")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// or_expr = and_expr { "or" and_expr }
func (p *parser) parseOr() (Node, error) {
	return p.parseChain(tOr, p.parseAnd, newOr)
}

// and_expr = unary { "and" unary }
func (p *parser) parseAnd() (Node, error) {
	return p.parseChain(tAnd, p.parseUnary, newAnd)
}

// parseChain parses operands separated by op iteratively, so a long chain
// costs no stack.
func (p *parser) parseChain(op tokKind, operand func() (Node, error), build func([]Node) Node) (Node, error) {
	x, err := operand()
	if err != nil {
		return nil, err
	}
	args := []Node{x}
	for p.peek().kind == op {
		t := p.next()
		if err := p.count(t.pos, 1); err != nil {
			return nil, err
		}
		y, err := operand()
		if err != nil {
			return nil, err
		}
		args = append(args, y)
	}
	return build(args), nil
}

// unary = "not" unary | primary
func (p *parser) parseUnary() (Node, error) {
	if p.peek().kind != tNot {
		return p.parsePrimary()
	}
	t := p.next()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.count(t.pos, 1); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &Not{Arg: x}, nil
}

// primary = "(" or_expr ")" | "exists" path | literal "in" path | predicate
func (p *parser) parsePrimary() (Node, error) {
	t := p.peek()
	switch t.kind {
	case tLParen:
		return p.parseParens()
	case tExists:
		p.next()
		path, err := p.parsePath()
		if err != nil {
			return nil, err
		}
		return p.leaf(path.pos, nil, nil, func() (Node, *checkFail) { return checkExists(p.schema, path.name) })
	case tString, tNumber, tTrue, tFalse, tNull:
		return p.parseContains()
	case tIdent:
		return p.parsePredicate()
	}
	return nil, p.expected("a condition", t)
}

func (p *parser) parseParens() (Node, error) {
	open := p.next()
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.peek().kind == tRParen {
		return nil, p.expected("a condition inside ( )", p.peek())
	}
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tRParen {
		if t.kind == tEOF {
			return nil, p.fail(t.pos, `unbalanced "(" at `+open.pos.String()+`: expected ")", found end of rule`)
		}
		return nil, p.expected(`")" to close "(" at `+open.pos.String(), t)
	}
	p.next()
	return x, nil
}

type pathTok struct {
	name string
	pos  Pos
}

// path = ident { "." name }, where a name after a dot may be a keyword
// (traits.in is a trait called "in").
func (p *parser) parsePath() (pathTok, error) {
	t := p.next()
	if t.kind != tIdent {
		return pathTok{}, p.expected("a field name", t)
	}
	var b strings.Builder
	b.WriteString(t.text)
	for p.peek().kind == tDot {
		p.next()
		seg := p.next()
		if seg.kind != tIdent && seg.kind < tAnd {
			return pathTok{}, p.expected(`a name after "."`, seg)
		}
		b.WriteString("." + seg.text)
	}
	return pathTok{name: b.String(), pos: t.pos}, nil
}

// literal "in" path
func (p *parser) parseContains() (Node, error) {
	lt := p.next()
	lit := literalOf(lt)
	if in := p.peek(); in.kind != tIn {
		return nil, p.expected(`"in" after `+lt.describe()+` (a value is only a condition in "value" in field)`, in)
	}
	p.next()
	path, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	return p.leaf(path.pos, []Pos{lt.pos}, nil, func() (Node, *checkFail) { return checkContains(p.schema, lit, path.name) })
}

// predicate = path [ op literal | "in" list | "between" literal "and" literal | "within" duration ]
func (p *parser) parsePredicate() (Node, error) {
	path, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tOp:
		p.next()
		v, vt, err := p.parseLiteral("a value after " + quote(t.text))
		if err != nil {
			return nil, err
		}
		return p.leaf(path.pos, []Pos{vt.pos}, nil, func() (Node, *checkFail) { return checkCompare(p.schema, path.name, t.text, v) })
	case tIn:
		p.next()
		return p.parseInList(path)
	case tBetween:
		p.next()
		return p.parseBetween(path)
	case tWithin:
		p.next()
		d := p.next()
		if d.kind != tDuration {
			return nil, p.expected("a duration such as 30d after \"within\"", d)
		}
		return p.leaf(path.pos, []Pos{d.pos}, nil, func() (Node, *checkFail) { return checkWithin(p.schema, path.name, d.text) })
	}
	return p.leaf(path.pos, nil, nil, func() (Node, *checkFail) { return checkTruth(p.schema, path.name) })
}

func (p *parser) parseBetween(path pathTok) (Node, error) {
	lo, lt, err := p.parseLiteral(`a lower bound after "between"`)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tAnd {
		return nil, p.expected(`"and" between the bounds of "between"`, t)
	}
	hi, ht, err := p.parseLiteral(`an upper bound after "and"`)
	if err != nil {
		return nil, err
	}
	return p.leaf(path.pos, []Pos{lt.pos, lt.pos, ht.pos}, nil, func() (Node, *checkFail) { return checkBetween(p.schema, path.name, lo, hi) })
}

// list = "[" [ literal { "," literal } ] "]"
func (p *parser) parseInList(path pathTok) (Node, error) {
	open := p.next()
	if open.kind != tLBrack {
		return nil, p.expected(`"[" to start a list after "in" (or write "value" in `+path.name+`)`, open)
	}
	var vals []Literal
	var poss []Pos
	for p.peek().kind != tRBrack {
		if len(vals) > 0 {
			if t := p.next(); t.kind != tComma {
				return nil, p.expected(`"," or "]" in the list opened at `+open.pos.String(), t)
			}
		}
		v, vt, err := p.parseLiteral("a string or a number in the list")
		if err != nil {
			return nil, err
		}
		if err := p.count(vt.pos, 1); err != nil {
			return nil, err
		}
		vals, poss = append(vals, v), append(poss, vt.pos)
	}
	closeTok := p.next()
	return p.leaf(path.pos, []Pos{closeTok.pos}, poss, func() (Node, *checkFail) { return checkInList(p.schema, path.name, vals) })
}

func (p *parser) parseLiteral(what string) (Literal, token, error) {
	t := p.next()
	switch t.kind {
	case tString, tNumber, tTrue, tFalse, tNull:
		return literalOf(t), t, nil
	case tIdent:
		return Literal{}, t, p.fail(t.pos, "expected "+what+", found field "+t.text+" (a rule compares fields with constants; quote strings)")
	}
	return Literal{}, t, p.expected(what, t)
}

func literalOf(t token) Literal {
	switch t.kind {
	case tString:
		return Literal{Kind: LitString, Str: t.str}
	case tNumber:
		return Literal{Kind: LitNumber, Num: t.num}
	case tTrue, tFalse:
		return Literal{Kind: LitBool, Bool: t.kind == tTrue}
	}
	return Literal{Kind: LitNull}
}

// leaf runs a condition's check and places its failure: at the field, at
// parts[i] for the value parts (value, low, high), at elems[i] for list
// elements.
func (p *parser) leaf(field Pos, parts []Pos, elems []Pos, check func() (Node, *checkFail)) (Node, error) {
	if err := p.count(field, 1); err != nil {
		return nil, err
	}
	n, f := check()
	if f == nil {
		return n, nil
	}
	pos := field
	switch {
	case f.at == atElem && f.elem < len(elems):
		pos = elems[f.elem]
	case f.at >= atValue && f.at <= atHigh && len(parts) > 0:
		pos = parts[min(int(f.at)-1, len(parts)-1)]
	}
	return nil, p.fail(pos, f.msg)
}
