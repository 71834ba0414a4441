namespace Extip.Core.Addresses;

/// <summary>Text that is not an address, CIDR or range. The message quotes the text and says why.</summary>
public sealed class AddressFormatException : FormatException
{
    public AddressFormatException(string text, string reason)
        : base($"\"{text}\" is not a valid address: {reason}")
    {
        Text = text;
        Reason = reason;
    }

    public AddressFormatException()
        : this(string.Empty, "empty")
    {
    }

    public AddressFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Text = string.Empty;
        Reason = message;
    }

    /// <summary>The text as it was given.</summary>
    public string Text { get; }

    /// <summary>Why it was refused, without the text.</summary>
    public string Reason { get; }
}
