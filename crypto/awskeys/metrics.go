package awskeys

import (
	"context"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldseal/fieldseal/internal/promreg"
)

// metrics holds this package's collectors; one per Provider or admin call, shared
// through the Registerer when several register on the same registry.
type metrics struct {
	calls *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{calls: promreg.CounterVec(reg, "fieldseal_keys_provider_calls_total",
		"AWS API attempts made by the aws key provider, by service, operation and result.", "service", "operation", "result")}
}

// apiOption installs the counting middleware on a service client's stack. It sits
// in the Finalize step right after the SDK's retry middleware, so it sees (and
// counts) every HTTP attempt, which is what AWS quotas and bills count.
func (m *metrics) apiOption(stack *middleware.Stack) error {
	mw := middleware.FinalizeMiddlewareFunc("fieldseal/CountCalls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			m.calls.WithLabelValues(serviceLabel(awsmiddleware.GetServiceID(ctx)),
				awsmiddleware.GetOperationName(ctx), result(err)).Inc()
			return out, md, err
		})
	if err := stack.Finalize.Insert(mw, "Retry", middleware.After); err != nil {
		return stack.Finalize.Add(mw, middleware.Before)
	}
	return nil
}

// serviceLabel turns the SDK service id ("KMS", "Secrets Manager") into a label value.
func serviceLabel(id string) string {
	return strings.ToLower(strings.ReplaceAll(id, " ", ""))
}
