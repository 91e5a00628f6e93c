package awskeys

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// maxVersionPages bounds the ListSecretVersionIds pages read for one
// rotation (Secrets Manager keeps about 100 versions of a secret).
const maxVersionPages = 10

// highestIssued returns the highest key version id any version of the ring
// secret that Secrets Manager still keeps holds for ringID (a ring of the
// same id, or one from before ring ids), so that a rotation on a replayed
// ring (an older version's text put back, AWSCURRENT moved back) never
// issues an id the lost versions already sealed values under: sealed
// values name only a version. Versions that do not parse are skipped (they
// cannot have sealed anything this ring opens). Versions Secrets Manager
// no longer keeps are beyond it (docs/keys.md, "Version ids after a
// replay"). It costs one ListSecretVersionIds and one GetSecretValue per
// kept version, once per rotation.
func (c *clients) highestIssued(ctx context.Context, ringID string) (uint32, error) {
	var highest uint32
	var token *string
	for page := 0; page < maxVersionPages; page++ {
		out, err := call(ctx, c, func(ctx context.Context) (*secretsmanager.ListSecretVersionIdsOutput, error) {
			return c.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{
				SecretId: aws.String(c.opts.SecretID), IncludeDeprecated: aws.Bool(true), NextToken: token,
			})
		})
		if err != nil {
			return 0, callError("secretsmanager", "ListSecretVersionIds", "secret "+c.secretRef(), err)
		}
		for _, v := range out.Versions {
			got, err := call(ctx, c, func(ctx context.Context) (*secretsmanager.GetSecretValueOutput, error) {
				return c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.opts.SecretID), VersionId: v.VersionId})
			})
			if err != nil {
				return 0, callError("secretsmanager", "GetSecretValue", "secret "+c.secretRef()+" version "+strconv.Quote(aws.ToString(v.VersionId)), err)
			}
			if got.SecretString == nil {
				continue
			}
			r, err := parseRing([]byte(*got.SecretString))
			if err != nil || (r.RingID != "" && r.RingID != ringID) {
				continue
			}
			highest = max(highest, r.maxID())
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	return highest, nil
}
