namespace Surge.Server;

// /v1 endpoints: the node's downstream status and readiness.
public sealed partial class Api
{
    private void MapOperations(IEndpointRouteBuilder app, IEndpointRouteBuilder v1)
    {
        v1.MapGet("/flow", Handler(FlowStatus)).WithName("flowStatus").WithSummary("Downstream stages and the read model: position and lag per partition (admin)").WithTags("operations")
            .Produces<FlowStatusResponse>(200).Problems(401, 403);
        app.MapGet("/healthz", Handler(Health)).WithName("health").WithSummary("Readiness of the node").WithTags("operations").Produces<HealthResponse>(200).Problems(503);
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

    private async Task Health(HttpContext context)
    {
        var ready = state.Lifecycle.Ready;
        await WriteAsync(context, ready ? 200 : 503, new HealthResponse(ready ? "ready" : "starting", Options.Partitions, Catalog.SkuCount,
            state.Lifecycle.OrdersAtStart), ApiJson.Default.HealthResponse);
    }
}
