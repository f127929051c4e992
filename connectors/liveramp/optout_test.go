package liveramp

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/touchpoint/touchpoint/connectors"
)

func readOptOut(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(gz).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestOptOutFileWrittenAndDone(t *testing.T) {
	dir := t.TempDir()
	o := &OptOut{Dir: dir}
	req := connectors.ErasureRequest{RequestID: "del/5", EmailSHA256: []string{"BB", "aa", "aa"}, CustomerIDs: []string{" c-1 "}, UserIDs: []string{"u"}}
	name, err := o.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if name != "touchpoint-deletion-del_5.csv.gz" {
		t.Fatalf("name %q", name)
	}
	want := [][]string{OptOutHeader, {"", "c-1", "deletion"}, {"aa", "", "deletion"}, {"bb", "", "deletion"}}
	if got := readOptOut(t, filepath.Join(dir, name)); !reflect.DeepEqual(got, want) {
		t.Fatalf("file %v, want %v", got, want)
	}
	st, err := o.Status(context.Background(), name)
	if err != nil || st.State != connectors.ErasureDone || st.Detail != OptOutDetail {
		t.Fatalf("status %+v %v", st, err)
	}
	// A retried submit replaces the same file and leaves no temporary file behind.
	req.EmailSHA256 = []string{"aa"}
	if again, err := o.Submit(context.Background(), req); err != nil || again != name {
		t.Fatalf("resubmit %q %v", again, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || len(readOptOut(t, filepath.Join(dir, name))) != 3 {
		t.Fatalf("landing directory holds %d entries", len(entries))
	}
}

func TestOptOutMissingFileFails(t *testing.T) {
	o := &OptOut{Dir: t.TempDir()}
	st, err := o.Status(context.Background(), FileName("gone"))
	if err != nil || st.State != connectors.ErasureFailed {
		t.Fatalf("status %+v %v, want failed", st, err)
	}
	if _, err := o.Status(context.Background(), "../etc/passwd"); err == nil {
		t.Fatal("path accepted as external id")
	}
}

func TestOptOutNothingToErase(t *testing.T) {
	dir := t.TempDir()
	o := &OptOut{Dir: dir}
	if _, err := o.Submit(context.Background(), connectors.ErasureRequest{RequestID: "r", UserIDs: []string{"u"}, DeviceIDs: []string{"d"}}); !errors.Is(err, connectors.ErrNothingToErase) {
		t.Fatalf("err %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatal("file written with nothing to erase")
	}
	if _, err := (&OptOut{}).Submit(context.Background(), connectors.ErasureRequest{RequestID: "r", EmailSHA256: []string{"aa"}}); err == nil {
		t.Fatal("no directory accepted")
	}
}
