package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"nextbest/journal"
)

// runJournal implements "nextbest journal verify|repair (--dir DIR |
// --data DATA)": find and report damage, and repair it by quarantining the
// damaged bytes and tombstoning the lost LSNs.
func runJournal(args []string) error {
	return journalCmd(args, os.Stdout)
}

func journalCmd(args []string, w io.Writer) error {
	const usage = "usage: nextbest journal verify|repair (--dir DIR | --data DATA) [--quarantine FILE]\n       nextbest journal pull --config FILE --dir DIR"
	if len(args) > 0 && args[0] == "pull" {
		return journalPull(args[1:], w)
	}
	if len(args) == 0 || (args[0] != "verify" && args[0] != "repair") {
		return errors.New(usage)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("journal "+cmd, flag.ContinueOnError)
	dir := fs.String("dir", "", "journal directory")
	data := fs.String("data", "", "the service's data directory (its journal is DATA/journal)")
	var quarantine *string
	if cmd == "repair" {
		quarantine = fs.String("quarantine", "", "file the damaged bytes are appended to (default DIR/"+journal.QuarantineName+")")
	}
	fs.Usage = func() {
		if cmd == "verify" {
			fmt.Fprint(fs.Output(), `Usage: nextbest journal verify (--dir DIR | --data DATA)

Reads every frame of every segment, without changing anything, and reports
every damaged region, the valid LSN ranges, and whether the service would
start on this journal. Exit status 0 if the journal is clean, 1 if not.

Flags:
`)
		} else {
			fmt.Fprint(fs.Output(), `Usage: nextbest journal repair (--dir DIR | --data DATA) [--quarantine FILE]

Makes a damaged journal openable without discarding a valid record: every
valid record keeps its LSN, every damaged byte is appended to the
quarantine file, and each LSN lost inside the journal gets a tombstone
record so that LSNs stay contiguous. Stop the service first (repair refuses
a journal that is open).

Flags:
`)
		}
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("journal %s: unexpected argument %q\n%s", cmd, fs.Arg(0), usage)
	}
	switch {
	case *dir != "" && *data != "":
		return fmt.Errorf("journal %s: give --dir or --data, not both", cmd)
	case *data != "":
		*dir = filepath.Join(*data, "journal")
	case *dir == "":
		return fmt.Errorf("journal %s: --dir or --data is required\n%s", cmd, usage)
	}

	if cmd == "verify" {
		rep, err := journal.Verify(*dir)
		if err != nil {
			return err
		}
		printJournalReport(w, rep)
		if !rep.Clean() {
			return fmt.Errorf("journal %s is damaged (%d region%s)", *dir, len(rep.Damage), journalPlural(len(rep.Damage)))
		}
		return nil
	}
	rr, err := journal.Repair(*dir, *quarantine)
	if err != nil {
		return err
	}
	printJournalRepair(w, rr)
	return nil
}

// printJournalReport writes a Verify report in plain words.
func printJournalReport(w io.Writer, rep *journal.Report) {
	fmt.Fprintf(w, "journal %s: %d segment%s, %d valid record%s",
		rep.Dir, len(rep.Segments), journalPlural(len(rep.Segments)), rep.Frames, journalPlural(rep.Frames))
	if n := lsnCount(rep.Tombstones); n > 0 {
		fmt.Fprintf(w, " (%d of them tombstones: LSNs whose records a repair could not recover)", n)
	}
	fmt.Fprintln(w)
	for _, s := range rep.Segments {
		fmt.Fprintf(w, "  %s  LSN %s  %d frames  %d bytes", filepath.Base(s.File), journal.LSNRange{First: s.FirstLSN, Last: s.LastLSN}, s.Frames, s.Size)
		if s.ZeroTail > 0 {
			fmt.Fprintf(w, " (%d of them preallocated zeros)", s.ZeroTail)
		}
		fmt.Fprintln(w)
	}
	if len(rep.Segments) == 0 {
		fmt.Fprintln(w, "  no segments: an empty journal")
		return
	}
	fmt.Fprintf(w, "valid LSNs: %s\n", lsnRanges(rep.Valid))
	if len(rep.Tombstones) > 0 {
		fmt.Fprintf(w, "tombstones: %s\n", lsnRanges(rep.Tombstones))
	}
	if rep.Clean() {
		fmt.Fprintf(w, "clean: no damage; the journal opens and continues after LSN %d\n", rep.LastLSN)
		return
	}
	fmt.Fprintf(w, "DAMAGE: %d region%s\n", len(rep.Damage), journalPlural(len(rep.Damage)))
	for i, d := range rep.Damage {
		fmt.Fprintf(w, "  %d. %s\n", i+1, describeDamage(d))
	}
	if rep.OpenErr != nil {
		fmt.Fprintf(w, "the journal does NOT open: damage lies before valid records, and cutting it would drop acknowledged ones.\n")
		fmt.Fprintf(w, "next: stop the service and run \"nextbest journal repair --dir %s\": it keeps every valid record with its LSN, tombstones the lost LSNs and quarantines the damaged bytes.\n", rep.Dir)
		return
	}
	fmt.Fprintf(w, "the journal opens: the service cuts the torn tail and continues after LSN %d (\"nextbest journal repair --dir %s\" quarantines the tail instead of discarding it).\n", rep.LastLSN, rep.Dir)
}

// describeDamage says what one damaged region is.
func describeDamage(d journal.Damage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s offset %d", filepath.Base(d.File), d.Offset)
	if d.Length > 0 {
		fmt.Fprintf(&b, ", %d bytes", d.Length)
	}
	fmt.Fprintf(&b, ": %s; after LSN %d", d.Reason, d.LastGood)
	switch {
	case d.Tail:
		b.WriteString("; torn tail: nothing valid after it (a crash mid-write leaves one; it held no acknowledged record)")
	case d.NextValid > 0:
		fmt.Fprintf(&b, ", before LSN %d", d.NextValid)
	default:
		b.WriteString(", nothing valid after it")
	}
	if n := d.Lost.Len(); n > 0 {
		fmt.Fprintf(&b, "; lost: %d record%s, LSN %s", n, journalPlural(n), d.Lost)
	}
	return b.String()
}

// printJournalRepair writes what Repair did in plain words.
func printJournalRepair(w io.Writer, rr *journal.RepairReport) {
	if len(rr.Rewritten) == 0 {
		fmt.Fprintf(w, "journal %s has no damage: nothing to repair\n", rr.Dir)
		printJournalReport(w, rr.After)
		return
	}
	fmt.Fprintf(w, "repaired journal %s\n", rr.Dir)
	fmt.Fprintf(w, "  kept:        all %d valid record%s, with their LSNs: %s\n", rr.Kept, journalPlural(rr.Kept), lsnRanges(rr.Valid))
	if n := lsnCount(rr.Tombstoned); n > 0 {
		fmt.Fprintf(w, "  tombstoned:  %d lost LSN%s: %s\n", n, journalPlural(n), lsnRanges(rr.Tombstoned))
	} else {
		fmt.Fprintln(w, "  tombstoned:  none")
	}
	if rr.Quarantine != "" {
		fmt.Fprintf(w, "  quarantined: %d byte%s in %d region%s, appended to %s\n", rr.QuarantinedBytes, journalPlural(rr.QuarantinedBytes),
			len(rr.Quarantined), journalPlural(len(rr.Quarantined)), rr.Quarantine)
		for _, d := range rr.Quarantined {
			fmt.Fprintf(w, "    %s\n", describeDamage(d))
		}
	} else {
		fmt.Fprintln(w, "  quarantined: nothing (no damaged bytes, only missing LSNs)")
	}
	names := make([]string, len(rr.Rewritten))
	for i, p := range rr.Rewritten {
		names[i] = filepath.Base(p)
	}
	fmt.Fprintf(w, "  rewritten:   %s\n", strings.Join(names, ", "))
	fmt.Fprintln(w, "after the repair:")
	printJournalReport(w, rr.After)
}

// lsnRanges lists LSN ranges, at most 20 of them.
func lsnRanges(rs []journal.LSNRange) string {
	if len(rs) == 0 {
		return "none"
	}
	const most = 20
	var parts []string
	for i, r := range rs {
		if i == most {
			parts = append(parts, fmt.Sprintf("… and %d more ranges", len(rs)-most))
			break
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

func lsnCount(rs []journal.LSNRange) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

func journalPlural[T ~int | ~int64 | ~uint64](n T) string {
	if n == 1 {
		return ""
	}
	return "s"
}
