namespace Surge.Server;

// /v1 endpoints: the node's downstream status and readiness.
public sealed partial class Api
{
    private void MapOperations(IEndpointRouteBuilder app, IEndpointRouteBuilder v1)
    {
        v1.MapGet("/flow", Handler(FlowStatus)).WithName("flowStatus").WithSummary("Downstream stages and the read model: position and lag per partition (admin)").WithTags("operations")
            .Produces<FlowStatusResponse>(200).Problems(401, 403);
        app.MapGet("/healthz", Handler(Health)).WithName("health").WithSummary("Liveness: the process answers (also while it recovers or drains; no key)")
            .WithTags("operations").Produces<HealthResponse>(200);
        app.MapGet("/readyz", Handler(Ready)).WithName("ready")
            .WithSummary("Readiness: partitions recovered, not draining, PostgreSQL and Redis answering (cluster mode); 503 not_ready otherwise (no key)")
            .WithTags("operations").Produces<ReadinessResponse>(200).Problems(503);
    }

    private async Task FlowStatus(HttpContext context)
    {
        Authorize(context, Role.Admin);
        var partitions = await state.FlowQueries.StatusAsync();
        var readModel = state.ReadModelReads is { } reads ? await reads.StatusAsync(Enumerable.Range(0, Options.Partitions)) : [];
        var stages = partitions.Select(s => new StageStatusBody("fulfillment", s.Partition, s.Position, s.LagRecords, Math.Round(s.LagSeconds, 3)))
            .Concat(readModel.Select(s => new StageStatusBody("read-model", s.Partition, s.Position, s.LagRecords, Math.Round(s.LagSeconds, 3))))
            .ToArray();
        await WriteAsync(context, 200, new FlowStatusResponse(stages, partitions.Sum(s => s.Orders), partitions.Sum(s => s.Shipments),
                state.Flow.Rules.Carriers.Select(c => c.Id).ToArray()),
            ApiJson.Default.FlowStatusResponse);
    }

    /// <summary>Alive: answers 200 as long as the process serves HTTP, with what it is doing (starting, ready, draining).</summary>
    private async Task Health(HttpContext context)
    {
        var lifecycle = state.Lifecycle;
        var status = lifecycle.Draining ? "draining" : lifecycle.Ready ? "ready" : "starting";
        await WriteAsync(context, 200, new HealthResponse(status, Options.Partitions, Catalog.SkuCount, lifecycle.OrdersAtStart), ApiJson.Default.HealthResponse);
    }

    /// <summary>Ready for traffic: 200 with every check, or 503 <c>not_ready</c> naming the checks that failed.</summary>
    private async Task Ready(HttpContext context)
    {
        var checks = await state.Readiness.CheckAsync();
        var failed = checks.Where(c => !c.Ok).ToList();
        if (failed.Count > 0)
        {
            throw new ApiProblemException(503, "not_ready", string.Join("; ", failed.Select(c => $"{c.Name}: {c.Detail}")), TimeSpan.FromSeconds(1));
        }
        await WriteAsync(context, 200, new ReadinessResponse("ready", [.. checks.Select(c => new ReadinessCheckBody(c.Name, c.Ok, c.Detail))]),
            ApiJson.Default.ReadinessResponse);
    }
}
