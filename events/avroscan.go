package events

import (
	"errors"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
)

// hamba/avro trusts the block counts of arrays and maps: a count near math.MaxInt64,
// or math.MinInt64 written as a negative count, wraps its running length negative
// and it then builds a slice with a negative length (and can write outside it) with
// no error. It also reports truncated input as success, since it treats io.EOF as the
// end of a stream. So Codec.Decode first walks the bytes against the writer schema
// with the checks below and hands hamba only input that is exactly one well-formed
// value whose collections hold no more items than their bytes can carry.

// Limits on collections in one record: each is far above what validation accepts
// (100 touchpoints, 50 variations, …), so a record over them is hostile or broken.
const (
	// maxCollectionItems bounds the items of one array or map; it is also hamba's
	// MaxSliceAllocSize.
	maxCollectionItems = 4096
	// maxRecordItems bounds the items of all collections in one record, which keeps
	// the walk linear even when items take no bytes (arrays of null, empty records).
	maxRecordItems = MaxEventBytes
	// maxNesting bounds the depth of nested values, for recursive writer schemas.
	maxNesting = 32
)

// kind is an Avro type as a small integer: avro.Type is a string, too slow to
// switch on for every value of every record.
type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes // bytes and string
	kindFixed
	kindEnum
	kindRecord
	kindUnion
	kindArray
	kindMap
)

// kinds maps the primitive Avro types to their kind.
var kinds = map[avro.Type]kind{
	avro.Null: kindNull, avro.Boolean: kindBoolean, avro.Int: kindInt, avro.Long: kindLong,
	avro.Float: kindFloat, avro.Double: kindDouble, avro.Bytes: kindBytes, avro.String: kindBytes,
}

// shape is an Avro schema compiled for scanning: the bare structure, without the
// names, defaults and logical types that do not change how bytes are laid out.
type shape struct {
	kind   kind
	fields []*shape // record fields in order; union branches
	elem   *shape   // array items; map values
	size   int      // bytes of a fixed; symbols of an enum
}

// compileShape compiles s. named maps full names to shapes already compiled, so that
// references, including recursive ones, share them.
func compileShape(s avro.Schema, named map[string]*shape) (*shape, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		if sh, ok := named[n.FullName()]; ok {
			return sh, nil
		}
	}
	sh := &shape{}
	var err error
	switch s := s.(type) {
	case *avro.RecordSchema: // error types too: same layout
		sh.kind = kindRecord
		named[s.FullName()] = sh // before the fields, which may refer back to it
		for _, f := range s.Fields() {
			fs, err := compileShape(f.Type(), named)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name(), err)
			}
			sh.fields = append(sh.fields, fs)
		}
	case *avro.EnumSchema:
		sh.kind, sh.size = kindEnum, len(s.Symbols())
		named[s.FullName()] = sh
	case *avro.FixedSchema:
		sh.kind, sh.size = kindFixed, s.Size()
		named[s.FullName()] = sh
	case *avro.ArraySchema:
		sh.kind = kindArray
		sh.elem, err = compileShape(s.Items(), named)
	case *avro.MapSchema:
		sh.kind = kindMap
		sh.elem, err = compileShape(s.Values(), named)
	case *avro.UnionSchema:
		sh.kind = kindUnion
		for _, t := range s.Types() {
			ts, err := compileShape(t, named)
			if err != nil {
				return nil, err
			}
			sh.fields = append(sh.fields, ts)
		}
	default:
		k, ok := kinds[s.Type()]
		if !ok {
			return nil, fmt.Errorf("unsupported Avro schema type %s", s.Type())
		}
		sh.kind = k
	}
	if err != nil {
		return nil, err
	}
	return sh, nil
}

var (
	errTruncated = errors.New("truncated")
	errOverlong  = errors.New("malformed varint")
)

// scanner walks Avro binary data. It allocates only to report an error.
type scanner struct {
	b     []byte
	items int // collection items left in the record's budget
}

// checkAvro returns nil if b is exactly one well-formed value of sh.
func checkAvro(sh *shape, b []byte) error {
	sc := scanner{b: b, items: maxRecordItems}
	if err := sc.value(sh, 0); err != nil {
		return err
	}
	if len(sc.b) != 0 {
		return fmt.Errorf("%d unexpected bytes after the record", len(sc.b))
	}
	return nil
}

func (sc *scanner) value(sh *shape, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("values nested more than %d deep", maxNesting)
	}
	switch sh.kind {
	case kindNull:
		return nil
	case kindBoolean:
		if len(sc.b) < 1 {
			return errTruncated
		}
		if sc.b[0] > 1 {
			return fmt.Errorf("invalid boolean byte %d", sc.b[0])
		}
		sc.b = sc.b[1:]
		return nil
	case kindInt:
		_, err := sc.varint(5)
		return err
	case kindLong:
		_, err := sc.varint(10)
		return err
	case kindFloat:
		return sc.skip(4)
	case kindDouble:
		return sc.skip(8)
	case kindBytes:
		return sc.bytes()
	case kindFixed:
		return sc.skip(sh.size)
	case kindEnum:
		i, err := sc.varint(5)
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(sh.size) {
			return fmt.Errorf("enum symbol %d out of range", i)
		}
		return nil
	case kindRecord:
		for _, f := range sh.fields {
			if err := sc.value(f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case kindUnion:
		i, err := sc.varint(10)
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(sh.fields)) {
			return fmt.Errorf("union branch %d out of range", i)
		}
		return sc.value(sh.fields[i], depth+1)
	case kindArray, kindMap:
		return sc.blocks(sh, depth)
	}
	return fmt.Errorf("unsupported Avro kind %d", sh.kind)
}

// blocks walks an array or map: blocks of items, each block headed by its item count
// (negative when a byte size follows), ending with a zero count.
func (sc *scanner) blocks(sh *shape, depth int) error {
	total := 0
	for {
		n, err := sc.varint(10)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return errors.New("invalid block count")
			}
			n = -n
			size, err := sc.varint(10)
			if err != nil {
				return err
			}
			if size < 0 || size > int64(len(sc.b)) {
				return errors.New("invalid block size")
			}
		}
		if n > int64(maxCollectionItems-total) || n > int64(sc.items) {
			return fmt.Errorf("more than %d items in a collection", min(maxCollectionItems, total+sc.items))
		}
		total += int(n)
		sc.items -= int(n)
		for range n {
			if sh.kind == kindMap {
				if err := sc.bytes(); err != nil { // the key
					return err
				}
			}
			if err := sc.value(sh.elem, depth+1); err != nil {
				return err
			}
		}
	}
}

// varint reads a zig-zag encoded varint of at most maxLen bytes.
func (sc *scanner) varint(maxLen int) (int64, error) {
	var v uint64
	for i := 0; i < maxLen; i++ {
		if i == len(sc.b) {
			return 0, errTruncated
		}
		c := sc.b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			sc.b = sc.b[i+1:]
			return int64(v>>1) ^ -int64(v&1), nil
		}
	}
	return 0, errOverlong
}

func (sc *scanner) bytes() error {
	n, err := sc.varint(10)
	if err != nil {
		return err
	}
	if n < 0 {
		return errors.New("negative length")
	}
	if n > int64(len(sc.b)) {
		return errTruncated
	}
	sc.b = sc.b[n:]
	return nil
}

func (sc *scanner) skip(n int) error {
	if n > len(sc.b) {
		return errTruncated
	}
	sc.b = sc.b[n:]
	return nil
}
