package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fieldseal/fieldseal/config"
	"github.com/fieldseal/fieldseal/crypto"
)

// reasonNotDue is the audit Reason of a conditional `keys rotate` that
// found nothing to do.
const reasonNotDue = "not_due"

// rotateCond is what `keys rotate` was asked to rotate on: the CMK having
// rotated (aws), the primary's age, or (neither) unconditionally.
type rotateCond struct {
	cmk       bool
	olderThan time.Duration // 0: no age condition
	now       time.Time
}

// due is the age condition, asked by the provider under its lock or
// compare-and-swap against the primary as stored. With the CMK condition
// alone it is false: the CMK check has its own entry point.
func (c rotateCond) due(primary crypto.KeyInfo) bool {
	switch {
	case c.olderThan > 0:
		return c.now.Sub(primary.Created) > c.olderThan
	default:
		return !c.cmk
	}
}

// verdict is the first line of `keys rotate`'s output, for a CronJob's log.
func (c rotateCond) verdict(rotated bool, primary uint32, keys []crypto.KeyInfo) string {
	if rotated {
		return fmt.Sprintf("rotated: yes, v%d is primary", primary)
	}
	var parts []string
	if c.cmk {
		parts = append(parts, "the KMS key has not rotated since the ring last followed it")
	}
	if c.olderThan > 0 {
		for _, k := range keys {
			if k.ID == primary {
				parts = append(parts, fmt.Sprintf("primary v%d is %s old, not older than %s", primary, formatAge(c.now.Sub(k.Created)), formatAge(c.olderThan)))
			}
		}
	}
	return "rotated: no, " + strings.Join(parts, "; ")
}

// formatAge prints d in whole days from two days on ("12d"), else as a
// duration to the second.
func formatAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.Round(time.Second).String()
}

// ageFlag is a flag.Value for an age: a Go duration ("2160h", "90m") or a
// whole number of days ("90d").
type ageFlag time.Duration

func (a *ageFlag) String() string {
	if *a == 0 {
		return ""
	}
	return formatAge(time.Duration(*a))
}

func (a *ageFlag) Set(s string) error {
	d, err := parseAge(s)
	if err != nil {
		return err
	}
	*a = ageFlag(d)
	return nil
}

// parseAge parses a positive age in the config files' duration syntax: a
// Go duration or a whole number of days ("90d").
func parseAge(s string) (time.Duration, error) {
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("age %q: want whole days (90d) or a Go duration (2160h)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("age %q: must be positive", s)
	}
	return d, nil
}
