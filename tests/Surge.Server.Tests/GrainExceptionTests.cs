using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Surge.Server.Tests;

/// <summary>A failure thrown in a partition on one silo reaches the HTTP handler on another as itself: the handler
/// tells "the partition is moving or its journal failed: retry (503)" from a bug (500) by the exception's type.</summary>
public sealed class GrainExceptionTests
{
    private static Serializer Serializer(bool surge)
    {
        var services = new ServiceCollection();
        services.AddSerializer();
        if (surge)
        {
            SurgeServer.ConfigureGrainExceptions(services);
        }
        return services.BuildServiceProvider().GetRequiredService<Serializer>();
    }

    public static TheoryData<Exception> Unavailable() =>
    [
        new Journal.JournalUnavailableException("the database did not answer", new InvalidOperationException("inner")),
        new Journal.JournalWriteException("the write failed"),
        new Journal.JournalUnavailableException("PostgreSQL refused the connection", new Npgsql.NpgsqlException("the server closed the connection")),
        new Journal.JournalWriteException("the commit failed", new Npgsql.PostgresException("sorry, too many clients already", "FATAL", "FATAL", "53300")),
        new Surge.Journal.Postgres.JournalFencedException("another activation took partition 3 over"),
        new PartitionUnavailableException("partition 3's downstream is not open here"),
    ];

    [Theory]
    [MemberData(nameof(Unavailable))]
    public void AnUnavailablePartition_CrossesTheWireAsItself_AndIsAnswered503(Exception thrown)
    {
        var wire = Serializer(surge: true);
        var received = wire.Deserialize<Exception>(wire.SerializeToArray<Exception>(thrown))!;
        Assert.Equal(thrown.GetType(), received.GetType());
        Assert.Equal(thrown.Message, received.Message);
        Assert.True(Problems.IsUnavailable(received));
    }

    [Fact]
    public void WithoutTheSurgeNamespace_OrleansCannotSendIt_SoTheCallerWouldSeeAnotherFailure()
    {
        var wire = Serializer(surge: false);
        Assert.Throws<CodecNotFoundException>(() => wire.SerializeToArray<Exception>(new Journal.JournalUnavailableException("x")));
    }
}
