package segments

import (
	"strconv"
	"strings"
)

// Node is a node of a rule's syntax tree. The tree holds no source
// positions, so the text and the JSON form of a rule compile to equal trees
// (comparable with reflect.DeepEqual).
type Node interface {
	// write appends the canonical text of the node.
	write(b *strings.Builder)
}

// And matches when every argument matches. It has at least two arguments,
// none of them an And (nested conjunctions are flattened).
type And struct{ Args []Node }

// Or matches when any argument matches. It has at least two arguments, none
// of them an Or.
type Or struct{ Args []Node }

// Not matches when its argument does not.
type Not struct{ Arg Node }

// Compare is `field op value`, op one of == != < <= > >=.
type Compare struct {
	Field string
	Op    string
	Value Literal
}

// InList is `field in [v1, v2, ...]`: the field's value is one of the values.
type InList struct {
	Field  string
	Values []Literal
}

// Contains is `"value" in field`: the list field holds the value.
type Contains struct {
	Value Literal
	Field string
}

// Between is `field between low and high`, bounds included.
type Between struct {
	Field     string
	Low, High Literal
}

// Exists is `exists field`: the field is present and not null.
type Exists struct{ Field string }

// Within is `field within 30d`: the timestamp is at most that long before
// the evaluation time.
type Within struct {
	Field  string
	Amount int64
	Unit   string // s, m, h, d or w
}

// Truth is a bare boolean field used as a condition, as in `not gdpr`.
type Truth struct{ Field string }

// LitKind is the kind of a literal value.
type LitKind uint8

// The literal kinds.
const (
	LitNull LitKind = iota + 1
	LitString
	LitNumber
	LitBool
)

// Literal is a constant in a rule. Only the member of its kind is set.
type Literal struct {
	Kind LitKind
	Str  string
	Num  float64
	Bool bool
}

func (l Literal) String() string {
	switch l.Kind {
	case LitString:
		return strconv.Quote(l.Str)
	case LitNumber:
		return strconv.FormatFloat(l.Num, 'g', -1, 64)
	case LitBool:
		return strconv.FormatBool(l.Bool)
	}
	return "null"
}

// describe names a literal for an error message: `string "x"`, `number 5`.
func (l Literal) describe() string {
	switch l.Kind {
	case LitString:
		return "string " + l.String()
	case LitNumber:
		return "number " + l.String()
	case LitBool:
		return "bool " + l.String()
	}
	return "null"
}

// newAnd and newOr keep the tree canonical: flattened, never one argument.
func newAnd(args []Node) Node {
	var flat []Node
	for _, a := range args {
		if x, ok := a.(*And); ok {
			flat = append(flat, x.Args...)
		} else {
			flat = append(flat, a)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return &And{Args: flat}
}

func newOr(args []Node) Node {
	var flat []Node
	for _, a := range args {
		if x, ok := a.(*Or); ok {
			flat = append(flat, x.Args...)
		} else {
			flat = append(flat, a)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return &Or{Args: flat}
}

// render returns the canonical text of a tree: keywords in lower case, one
// space around operators, parentheses only where precedence needs them.
func render(n Node) string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *Or) write(b *strings.Builder) {
	for i, a := range n.Args {
		if i > 0 {
			b.WriteString(" or ")
		}
		a.write(b) // and binds tighter than or: no parentheses needed
	}
}

func (n *And) write(b *strings.Builder) {
	for i, a := range n.Args {
		if i > 0 {
			b.WriteString(" and ")
		}
		writeOperand(b, a)
	}
}

func (n *Not) write(b *strings.Builder) {
	b.WriteString("not ")
	writeOperand(b, n.Arg)
}

// writeOperand parenthesizes an operand of and/not that binds more loosely.
func writeOperand(b *strings.Builder, n Node) {
	switch n.(type) {
	case *Or, *And:
		b.WriteByte('(')
		n.write(b)
		b.WriteByte(')')
	default:
		n.write(b)
	}
}

func (n *Compare) write(b *strings.Builder) {
	b.WriteString(n.Field + " " + n.Op + " " + n.Value.String())
}

func (n *InList) write(b *strings.Builder) {
	b.WriteString(n.Field + " in [")
	for i, v := range n.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	b.WriteByte(']')
}

func (n *Contains) write(b *strings.Builder) {
	b.WriteString(n.Value.String() + " in " + n.Field)
}

func (n *Between) write(b *strings.Builder) {
	b.WriteString(n.Field + " between " + n.Low.String() + " and " + n.High.String())
}

func (n *Exists) write(b *strings.Builder) { b.WriteString("exists " + n.Field) }

func (n *Within) write(b *strings.Builder) {
	b.WriteString(n.Field + " within " + strconv.FormatInt(n.Amount, 10) + n.Unit)
}

func (n *Truth) write(b *strings.Builder) { b.WriteString(n.Field) }

func quote(s string) string { return strconv.Quote(s) }
