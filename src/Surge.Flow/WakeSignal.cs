namespace Surge.Flow;

/// <summary>Wakes a scheduling loop when work arrives, or after a wait on a (fakeable) clock, whichever is first.</summary>
internal sealed class WakeSignal(TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0);

    public void Set() => _signal.Release();

    /// <summary>Until <see cref="Set"/> is called or <paramref name="wait"/> passed (infinite: only a signal).</summary>
    public async Task WaitAsync(TimeSpan wait, CancellationToken stop)
    {
        if (wait == Timeout.InfiniteTimeSpan)
        {
            await _signal.WaitAsync(stop).ConfigureAwait(false);
            return;
        }
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var signalled = _signal.WaitAsync(either.Token);
        var elapsed = Task.Delay(wait, time, either.Token);
        await Task.WhenAny(signalled, elapsed).ConfigureAwait(false);
        await either.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(signalled, elapsed).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // the other one of the two was cancelled
        }
        stop.ThrowIfCancellationRequested();
    }

    public void Dispose() => _signal.Dispose();
}
