package awskeys

import (
	"context"
	"errors"
	"testing"
)

// Options.BeforeWrite sees the ring as it is and as it will be, with the
// secret version the write creates, before the write; its error leaves
// the secret as it was.
func TestBeforeWriteSeesTheChangeAndCanAbortIt(t *testing.T) {
	ctx, _, opts := newRing(t)
	type call struct{ prev, next *Status }
	var calls []call
	opts.BeforeWrite = func(_ context.Context, prev, next *Status) error {
		calls = append(calls, call{prev, next})
		return nil
	}
	st, err := Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].prev != nil || calls[0].next.VersionID != st.VersionID || calls[0].next.Primary != 1 {
		t.Fatalf("Init: hook calls %+v, ring written %+v", calls, st)
	}

	t.Run("a hook error aborts the change and leaves the secret", func(t *testing.T) {
		refused := errors.New("audit trail full")
		o := opts
		o.BeforeWrite = func(context.Context, *Status, *Status) error { return refused }
		if _, err := Rotate(ctx, o); !errors.Is(err, refused) {
			t.Fatalf("Rotate with a failing hook: %v, want its error", err)
		}
		cur := mustStatus(t, ctx, opts)
		if cur.VersionID != st.VersionID || cur.Primary != 1 {
			t.Fatalf("the secret moved to version %s, primary v%d, although the hook refused", cur.VersionID, cur.Primary)
		}
	})
	t.Run("the hook sees the version the write creates", func(t *testing.T) {
		calls = nil
		st, err := Rotate(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		cur := mustStatus(t, ctx, opts)
		if len(calls) != 1 || calls[0].prev.Primary != 1 || calls[0].next.Primary != 2 ||
			calls[0].next.VersionID != st.VersionID || cur.VersionID != st.VersionID {
			t.Fatalf("hook calls %+v; rotate returned version %s, the secret is at %s", calls, st.VersionID, cur.VersionID)
		}
	})
	t.Run("the hook sees the lookup version move from and to", func(t *testing.T) {
		calls = nil
		if _, err := RotateLookup(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 || calls[0].prev.Lookup != 1 || calls[0].next.Lookup != 2 {
			t.Fatalf("hook calls %+v, want one moving the lookup version 1 -> 2", calls)
		}
	})
}
