package liveramp

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/touchpoint/touchpoint/connectors"
)

// OptOutHeader is the header row of a deletion file: one identifier per row,
// either an e-mail's SHA-256 (lower-cased, trimmed address, as LiveRamp hashes
// them) or a customer id, and the request type.
var OptOutHeader = []string{"sha256_hash", "customer_id", "request_type"}

// OptOutDetail is the Status detail of a delivered file.
const OptOutDetail = "file delivered; LiveRamp applies deletions within 45 days"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// OptOut is a connectors.Eraser for LiveRamp, which takes no deletion over HTTP:
// Submit writes a gzipped CSV deletion file into Dir, a mounted SFTP landing
// directory LiveRamp collects from. The file is named after the request id (its
// external id), written to a hidden temporary file and renamed, so the collector
// never sees half a file and a retried Submit replaces the same file.
type OptOut struct {
	Dir string
}

// FileName is the deletion file of a request.
func FileName(requestID string) string {
	return "touchpoint-deletion-" + unsafeName.ReplaceAllString(requestID, "_") + ".csv.gz"
}

// OptOutRows are the data rows of a request's file, sorted and deduplicated.
func OptOutRows(req connectors.ErasureRequest) [][]string {
	var rows [][]string
	for _, h := range req.EmailSHA256 {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			rows = append(rows, []string{h, "", "deletion"})
		}
	}
	for _, c := range req.CustomerIDs {
		if c = CustomerID(c); c != "" {
			rows = append(rows, []string{"", c, "deletion"})
		}
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	return slices.CompactFunc(rows, slices.Equal)
}

// Submit writes the request's deletion file and returns its name.
func (o *OptOut) Submit(_ context.Context, req connectors.ErasureRequest) (string, error) {
	if o.Dir == "" {
		return "", errors.New("liveramp: no landing directory configured for deletion files")
	}
	if strings.TrimSpace(req.RequestID) == "" {
		return "", errors.New("liveramp: a deletion file needs a request id")
	}
	rows := OptOutRows(req)
	if len(rows) == 0 {
		return "", connectors.ErrNothingToErase
	}
	name := FileName(req.RequestID)
	if err := writeAtomically(o.Dir, name, rows); err != nil {
		return "", fmt.Errorf("liveramp: request %s: %w", req.RequestID, err)
	}
	return name, nil
}

// Status is done once the file is in the landing directory. A missing file is
// failed: it was removed by someone other than LiveRamp's collector or never
// written, and only a person can tell which.
func (o *OptOut) Status(_ context.Context, name string) (connectors.ErasureStatus, error) {
	if name == "" || filepath.Base(name) != name {
		return connectors.ErasureStatus{}, fmt.Errorf("liveramp: external id %q is not a file name", name)
	}
	_, err := os.Stat(filepath.Join(o.Dir, name))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return connectors.ErasureStatus{State: connectors.ErasureFailed, Detail: "deletion file " + name + " is missing from the landing directory"}, nil
	case err != nil:
		return connectors.ErasureStatus{}, fmt.Errorf("liveramp: deletion file %s: %w", name, err)
	}
	return connectors.ErasureStatus{State: connectors.ErasureDone, Detail: OptOutDetail}, nil
}

// writeAtomically writes the gzipped CSV to a hidden temporary file in dir,
// syncs it and renames it to name, then syncs dir so the rename survives a crash.
func writeAtomically(dir, name string, rows [][]string) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := writeCSV(tmp, rows); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename to %s: %w", name, err)
	}
	return syncDir(dir)
}

func writeCSV(f *os.File, rows [][]string) error {
	gz := gzip.NewWriter(f)
	w := csv.NewWriter(gz)
	if err := w.Write(OptOutHeader); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if err := w.WriteAll(rows); err != nil { // WriteAll flushes
		return fmt.Errorf("write rows: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("finish gzip: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
